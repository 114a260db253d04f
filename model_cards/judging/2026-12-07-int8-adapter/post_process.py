"""The bundle judged here (op4q): op4e's exact graph with its adapter MatMuls (lora_A, lora_B) rewritten as 8-bit
MatMulNBits (symmetric, blocks of 32, accuracy level 4); the Q4_1 minima stay float MatMuls, one per projection.
Everything else (probes, guard, tokenizer) is op4e's, so the A/B isolates how the adapter is stored.
`export.adapter_bits: 8` (train/exact_int4.py) builds the same kind of graph at export time, with one minima
MatMul per group.

    mkdir /tmp/src && cp bundles/rewriter_lm_op4e/model.onnx* /tmp/src/   # onnx refuses hard-linked external data
    python model_cards/judging/2026-12-07-int8-adapter/post_process.py bundles/rewriter_lm_op4e bundles/rewriter_lm_op4q /tmp/src
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from callinkit.bundle import file_sha256

src, dst, model_dir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
dst.mkdir(parents=True, exist_ok=True)
for f in src.iterdir():
    target = dst / f.name
    if f.name in ("model.onnx", "model.onnx.data") or target.exists():
        continue
    (shutil.copytree if f.is_dir() else shutil.copy2)(f, target)
model = onnx.load(str(model_dir / "model.onnx"))
graph = model.graph
inits = {i.name: i for i in graph.initializer}
producer = {o: n for n in graph.node for o in n.output}
base_k = {n.input[0]: next(a.i for a in n.attribute if a.name == "K") for n in graph.node if n.op_type == "MatMulNBits"}
concat_of = {n.output[0]: n for n in graph.node if n.op_type == "Concat" and n.name.endswith("/Concat_sums_lora_A")}
new_inits, dropped, out_nodes = [], set(), []


def value(name: str) -> np.ndarray:
    """The float32 value of an initializer, or of a Cast of an fp16 initializer."""
    if name in inits:
        return numpy_helper.to_array(inits[name]).astype(np.float32)
    node = producer[name]
    assert node.op_type == "Cast", node.name
    return numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)


def quantize(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """w [K, N] (K a multiple of 32 here) -> uint8 [N, K/32, 32] (q + 128, MatMulNBits' default zero point) and
    float32 scales: as `callinkit.train.exact_int4.quantize_8bit`, except that the scales are not rounded to fp16."""
    k, n = w.shape
    b = w.T.reshape(n, k // 32, 32)
    d = (np.abs(b).max(-1) / 127.0).astype(np.float32)
    d = np.where(d == 0, 1.0, d).astype(np.float32)
    return (np.clip(np.rint(b / d[..., None]), -127, 127).astype(np.int32) + 128).astype(np.uint8), d


def nbits8(x: str, w: np.ndarray, name: str, out: str) -> onnx.NodeProto:
    q, d = quantize(w)
    new_inits.extend([numpy_helper.from_array(q, f"{name}_Q8"), numpy_helper.from_array(d.reshape(-1), f"{name}_Q8_scales")])
    return helper.make_node("MatMulNBits", [x, f"{name}_Q8", f"{name}_Q8_scales"], [out], domain="com.microsoft",
                            name=f"{name}/MatMulNBits8", K=w.shape[0], N=w.shape[1], bits=8, block_size=32,
                            accuracy_level=4)


for node in graph.node:
    if node.op_type == "MatMul" and node.name.endswith("/lora_A/MatMul"):
        dropped.add(node.input[1])
        out_nodes.append(nbits8(node.input[0], value(node.input[1]), node.input[1], node.output[0]))
    elif node.op_type == "MatMul" and node.name.endswith("/MatMul_mins_lora_B"):
        sums, a = concat_of[node.input[0]].input
        w = value(node.input[1])
        dropped.add(node.input[1])
        blocks = base_k[sums.removesuffix("/block_sums")] // 32  # the minima's rows: K/32 of the base weight
        mins = node.input[1] + "_mins"
        new_inits.append(numpy_helper.from_array(w[:blocks].astype(np.float16), mins + "_fp16"))
        out_nodes += [helper.make_node("Cast", [mins + "_fp16"], [mins], to=TensorProto.FLOAT, name=mins + "/Cast"),
                      helper.make_node("MatMul", [sums, mins], [node.output[0] + "/mins"], name=node.name + "/mins"),
                      nbits8(a, w[blocks:], node.input[1] + "_B", node.output[0] + "/B"),
                      helper.make_node("Add", [node.output[0] + "/mins", node.output[0] + "/B"], [node.output[0]],
                                       name=node.name + "/Add")]
    elif not (node.op_type == "Concat" and node.name.endswith("/Concat_sums_lora_A")):
        out_nodes.append(node)
read = {i for n in out_nodes for i in n.input}
kept = []
for node in out_nodes:  # Casts of the replaced fp16 weights are read no more
    if node.op_type == "Cast" and node.output[0] in dropped and node.output[0] not in read:
        dropped.add(node.input[0])
    else:
        kept.append(node)
del graph.node[:]
graph.node.extend(kept)
rest = [i for i in graph.initializer if i.name not in dropped]
del graph.initializer[:]
graph.initializer.extend(rest + new_inits)
onnx.save(model, str(dst / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
          location="model.onnx.data", size_threshold=1024)
manifest = json.loads((dst / "manifest.json").read_text())
for f in ("model.onnx", "model.onnx.data"):
    manifest["files"][f] = file_sha256(dst / f)
(dst / "manifest.json").write_text(json.dumps(manifest, indent=2))
print(len(kept), "nodes")
