"""Store SmolLM2's base weights in the int4 decoder exactly as the GGUF file holds them, and the LoRA adapter
in full precision beside them.

The offline base model is de-quantized from a GGUF file whose linear weights are Q4_1 (blocks of 32 along the
input dimension, each `d * q + m` with q in 0..15 and an fp16 scale d and minimum m) and whose tied embedding
is Q8_0 (blocks of 32, `d * q` with q in -127..127). onnxruntime-genai's int4 build quantizes those weights a
second time on its own grid, and that second rounding, not the 4 bits, is what moved the int4 rewrites away
from fp32's (greedy text equal on 1 of 40 check sources).

Both GGUF grids fit onnxruntime's operators without any rounding:

  - Q4_1: `MatMulNBits` (4 bits, zero point 0) computes x @ (d * q); the minima add (per-block sums of x) @ m,
    a MatMul 32 times smaller than the weight. (MatMulNBits with float zero points would express `m` directly,
    but onnxruntime's CPU kernel then de-quantizes the whole weight on every call: 15x slower, measured.)
  - Q8_0: `MatMulNBits` with 8 bits and zero point 128 for the output head, and `GatherBlockQuantized` with
    8 bits over the same bytes for the embedding.

The adapter's low-rank MatMuls, which the builder quantizes to int4 as well, become float MatMuls (stored in
fp16), so the update trained on top of the base is not rounded either. Scales and minima are stored in fp16,
as in the GGUF file, and cast to float once when onnxruntime loads the model. `rewrite_exact` recovers (q, d, m)
from the de-quantized base weights and checks that every block reproduces them bit for bit; a weight that is
not on its grid keeps the builder's quantization, and the returned stats say which.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

BLOCK = 32
_LAYER = re.compile(r"^model\.layers\.(\d+)\.(attn|mlp)\.(\w+_proj)\.(?:(lora_[AB])\.)?MatMul\.weight_Q4$")


def recover_q4_1(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(q uint8 [N, K/32, 32], d float32 [N, K/32], m float32 [N, K/32]) with d * q + m == w exactly, or None.

    `w` is [N, K] (a torch Linear's weight). llama.cpp's Q4_1 sets m to the block's minimum and d to
    (max - min) / 15 rounded to fp16, so both are read off the block and then checked."""
    n, k = w.shape
    if k % BLOCK:
        return None
    b = w.reshape(n, k // BLOCK, BLOCK).astype(np.float32)
    m = b.min(-1)
    d = ((b.max(-1) - m) / 15).astype(np.float16).astype(np.float32)
    q = np.clip(np.rint((b - m[..., None]) / np.where(d == 0, 1, d)[..., None]), 0, 15).astype(np.uint8)
    if not np.array_equal(d[..., None] * q + m[..., None], b):
        return None
    return q, d, m


def recover_q8_0(w: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(q int8 [N, K/32, 32], d float32 [N, K/32]) with d * q == w exactly, or None."""
    n, k = w.shape
    if k % BLOCK:
        return None
    b = w.reshape(n, k // BLOCK, BLOCK).astype(np.float32)
    d = (np.abs(b).max(-1) / 127).astype(np.float16).astype(np.float32)
    q = np.clip(np.rint(b / np.where(d == 0, 1, d)[..., None]), -127, 127).astype(np.int8)
    if not np.array_equal(d[..., None] * q, b):
        return None
    return q, d


def pack_4bit(q: np.ndarray) -> np.ndarray:
    """[N, blocks, 32] values 0..15 -> MatMulNBits' B layout [N, blocks, 16] (even index in the low nibble)."""
    return (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)


_FUSED = {"qkv_proj": ("q_proj", "k_proj", "v_proj"), "gate_up_proj": ("gate_proj", "up_proj")}


def _hf_name(layer: str, part: str, proj: str) -> str:
    return f"model.layers.{layer}.{'self_attn' if part == 'attn' else 'mlp'}.{proj}"


# MatMulNBits' accuracy_level for the recovered Q4_1 weights: 0 computes in fp32, 4 quantizes the activations
# to int8 per block. Measured on 40 corpus-test call-outs (greedy text against the fp32 model's): level 0 equal
# on 33/40, chrF 97.5; level 4 equal on 8/40, chrF 74.8, for 7% less time. The Q8_0 head stays at level 4:
# 8-bit MatMulNBits at level 0 de-quantizes per call (31x slower on a 4,096-row head, measured).
EXACT_ACCURACY_LEVEL = 0


def rewrite_exact(model_path: Path, base: dict[str, np.ndarray], adapter: dict[str, np.ndarray] | None = None,
                  adapter_scale: float = 1.0, accuracy_level: int = EXACT_ACCURACY_LEVEL,
                  exact_head: bool = True, head_accuracy_level: int = 4) -> dict[str, Any]:
    """Rewrite an onnxruntime-genai int4 decoder (built with the adapter as separate MatMuls, or without one)
    in place; returns what was changed.

    `base`: the de-quantized base weights by Hugging Face name (the GGUF-derived folder's safetensors).
    `adapter`: LoRA weights by `<layer name>.lora_A` / `.lora_B` ([r, in] and [out, r]), scaled by
    `adapter_scale` as in training."""
    import onnx
    from onnx import helper, numpy_helper

    model_path = Path(model_path)
    model = onnx.load(str(model_path))
    graph = model.graph
    new_inits: list[onnx.TensorProto] = []
    new_nodes: dict[int, list[onnx.NodeProto]] = {}  # node index -> nodes that replace it
    block_sums: dict[str, str] = {}  # input name -> its per-block sums
    stats: dict[str, Any] = {"exact": 0, "kept_builder_quantization": [], "adapter_float": 0,
                             "head": "builder int4", "accuracy_level": accuracy_level}

    def const(name: str, array: np.ndarray) -> str:
        new_inits.append(numpy_helper.from_array(array, name))
        return name

    def fp16_to_float(name: str, array: np.ndarray) -> onnx.NodeProto:
        """`name` as a float tensor stored in fp16 (GGUF's scales and minima are fp16, so nothing is lost;
        onnxruntime folds the Cast into a float initializer when the session loads, before MatMulNBits
        pre-packs its weights)."""
        const(f"{name}_fp16", array.astype(np.float16))
        return helper.make_node("Cast", [f"{name}_fp16"], [name], to=onnx.TensorProto.FLOAT, name=f"{name}/Cast")

    def sums_of(x: str, k: int) -> list[onnx.NodeProto] | str:
        if x in block_sums:
            return block_sums[x]
        shape = const(f"{x}/block_shape", np.array([0, 0, k // BLOCK, BLOCK], dtype=np.int64))
        axes = const(f"{x}/block_axes", np.array([-1], dtype=np.int64))
        block_sums[x] = f"{x}/block_sums"
        return [helper.make_node("Reshape", [x, shape], [f"{x}/blocks"], name=f"{x}/Reshape_blocks"),
                helper.make_node("ReduceSum", [f"{x}/blocks", axes], [block_sums[x]], keepdims=0,
                                 name=f"{x}/ReduceSum_blocks")]

    for i, node in enumerate(graph.node):
        if node.op_type != "MatMulNBits":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        match = _LAYER.match(node.input[1])
        if match and match.group(4):  # an adapter half: a float MatMul (fp16 storage, cast once at load)
            if adapter is None:
                continue
            layer, part, proj, half = match.groups()
            w = adapter[f"{_hf_name(layer, part, proj)}.{half}"].astype(np.float32)
            if half == "lora_B":
                w = w * adapter_scale
            weight = node.input[1].removesuffix("_Q4")
            new_nodes[i] = [fp16_to_float(weight, np.ascontiguousarray(w.T)),
                            helper.make_node("MatMul", [node.input[0], weight], list(node.output),
                                             name=node.name.replace("MatMul_Q4", "MatMul"))]
            stats["adapter_float"] += 1
        elif match:
            layer, part, proj, _ = match.groups()
            # the builder fuses q, k and v into one MatMul when no adapter sits on them
            parts = _FUSED.get(proj, (proj,))
            names = [f"{_hf_name(layer, part, p)}.weight" for p in parts]
            found = (recover_q4_1(np.concatenate([base[n] for n in names]))
                     if all(n in base for n in names) else None)
            if found is None:
                stats["kept_builder_quantization"].append(node.input[1])
                continue
            q, d, m = found
            n, k = int(attrs["N"]), int(attrs["K"])
            assert q.shape[:2] == (n, k // BLOCK), (node.input[1], q.shape, n, k)
            name = node.input[1].removesuffix("_Q4")
            zp = const(f"{name}_zp0", np.zeros(n * ((k // BLOCK + 1) // 2), dtype=np.uint8))
            y = node.output[0]
            scales = f"{name}_Q4_1_scales"
            nodes = [fp16_to_float(scales, d.reshape(-1)), helper.make_node(
                "MatMulNBits", [node.input[0], const(f"{name}_Q4_1", pack_4bit(q)), scales, zp], [f"{y}/dq"],
                domain="com.microsoft", name=node.name, K=k, N=n, bits=4, block_size=BLOCK,
                accuracy_level=accuracy_level)]
            got = sums_of(node.input[0], k)
            if isinstance(got, list):
                nodes[:0] = got
            mins = f"{name}_Q4_1_mins"
            nodes += [fp16_to_float(mins, np.ascontiguousarray(m.T)),
                      helper.make_node("MatMul", [block_sums[node.input[0]], mins], [f"{y}/mins"],
                                       name=f"{node.name}/MatMul_mins"),
                      helper.make_node("Add", [f"{y}/dq", f"{y}/mins"], [y], name=f"{node.name}/Add_mins")]
            new_nodes[i] = nodes
            stats["exact"] += 1
        elif node.input[1] == "lm_head.MatMul.weight_Q4" and exact_head:
            found = recover_q8_0(base["model.embed_tokens.weight"])
            if found is None:
                continue
            q, d = found
            n, k = int(attrs["N"]), int(attrs["K"])
            data = const("lm_head.MatMul.weight_Q8_0", (q.astype(np.int16) + 128).astype(np.uint8))
            scales = "lm_head.MatMul.weight_Q8_0_scales"
            zp = const("lm_head.MatMul.weight_Q8_0_zp", np.full(d.shape, 128, dtype=np.uint8))
            new_nodes[i] = [fp16_to_float(scales, d),
                            helper.make_node("MatMulNBits", [node.input[0], data, scales, zp], list(node.output),
                                             domain="com.microsoft", name="/lm_head/MatMul_Q8", K=k, N=n, bits=8,
                                             block_size=BLOCK, accuracy_level=head_accuracy_level)]
            stats["head"] = "exact Q8_0"
            # the embedding reads the same bytes
            for other in graph.node:
                if other.op_type == "GatherBlockQuantized":
                    shape = const("lm_head.MatMul.weight_Q8_0_rows", np.array([n, k], dtype=np.int64))
                    reshape = next(x for x in graph.node if x.output[0] == other.input[0])
                    reshape.input[:] = [data, shape]
                    other.input[:] = [other.input[0], other.input[1], scales, zp]
                    for a in other.attribute:
                        if a.name == "bits":
                            a.i = 8
    out_nodes = []
    for i, node in enumerate(graph.node):
        out_nodes.extend(new_nodes.get(i, [node]))
    del graph.node[:]
    graph.node.extend(out_nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept + [t for t in new_inits if t.name in used])
    data_name = model_path.name + ".data"
    (model_path.parent / data_name).unlink(missing_ok=True)
    onnx.save(model, str(model_path), save_as_external_data=True, all_tensors_to_one_file=True,
              location=data_name, size_threshold=1024)
    return stats


def load_base_and_adapter(base_folder: Path, adapter_folder: Path | None) -> tuple[dict, dict | None, float]:
    """The base folder's de-quantized weights (numpy, by name), the adapter's A and B in float32 and its
    scale (alpha / rank), as `rewrite_exact` takes them."""
    import json

    from safetensors.numpy import load_file

    files = sorted(Path(base_folder).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{base_folder} has no *.safetensors weights to recover the GGUF blocks from")
    base: dict[str, np.ndarray] = {}
    for f in files:
        base.update(load_file(str(f)))
    if adapter_folder is None:
        return base, None, 1.0
    from safetensors.torch import load_file as load_torch

    from callinkit.train.lora import ADAPTER_FILE, ADAPTER_INFO

    info = json.loads((Path(adapter_folder) / ADAPTER_INFO).read_text())
    adapter = {k: v.float().numpy() for k, v in load_torch(str(Path(adapter_folder) / ADAPTER_FILE)).items()}
    return base, adapter, float(info["alpha"]) / float(info["rank"])
