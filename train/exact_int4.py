"""Store SmolLM2's base weights in the int4 decoder exactly as the GGUF file holds them, and the LoRA adapter
in full precision beside them.

The offline base model is de-quantized from a GGUF file whose linear weights are Q4_1 (blocks of 32 along the
input dimension, each `d * q + m` with q in 0..15 and an fp16 scale d and minimum m) and whose tied embedding
is Q8_0 (blocks of 32, `d * q` with q in -127..127). onnxruntime-genai's int4 build quantizes those weights a
second time on its own grid, and that second rounding, not the 4 bits, is what moved the int4 rewrites away
from fp32's (greedy text equal on 1 of 40 check sources).

Both GGUF grids fit onnxruntime's operators without any rounding:

  - Q4_1: `MatMulNBits` (4 bits, no zero points, so its default zero point 8) computes x @ (d * (q - 8)); the
    minima add (per-block sums of x) @ (m + 8 d), a MatMul 32 times smaller than the weight. m + 8 d is
    exact in float32 (checked; fp16 holds it too for 208 of SmolLM2's 210 projections, else it is stored in
    float32).
    The weight is d * q + m as before, only the float summation order differs. (MatMulNBits with a zero
    point 0 input computes the same weights ~8% slower, measured on one 1,536 x 576 MatMul at batch 1; with
    float zero points `m` could be expressed directly, but onnxruntime's CPU kernel then de-quantizes the
    whole weight on every call: 15x slower, measured.)
  - Q8_0: `MatMulNBits` with 8 bits and zero point 128 for the output head, and `GatherBlockQuantized` with
    8 bits over the same bytes for the embedding.

The adapter's low-rank MatMuls, which the builder quantizes to int4 as well, become float MatMuls (stored in
fp16), so the update trained on top of the base is not rounded either. Scales and minima are stored in fp16,
as in the GGUF file, and cast to float once when onnxruntime loads the model. `rewrite_exact` recovers (q, d, m)
from the de-quantized base weights and checks that every block reproduces them bit for bit; a weight that is
not on its grid keeps the builder's quantization, and the returned stats say which.

Graph layout: ~700 nodes per decode step instead of ~1,700 (one MatMulNBits, MatMul pair and Add per
projection before). Projections that read the same input are one group: q, k and v; gate and up; o; down.
Per group:

    dq   = MatMulNBits(x, [W_1; W_2; ...])                       one 4-bit MatMul over the rows side by side
    s    = ReduceSum(Reshape(x, [.., K/32, 32]), -1)              block sums, once per input
    a    = x @ [A_1 | A_2 | ...]  -> Split                        the adapters' first halves in one MatMul
    l_i  = Concat(s, a_i) @ [[m_i + 8 d_i]; [B_i * scale]]         minima and adapter in one MatMul each
    y    = dq + Concat(l_1, l_2, ...)                             one Add

With `adapter_bits=8` (`export.adapter_bits`) the adapter's halves are 8-bit MatMulNBits instead and the minima
keep a float MatMul of their own, one per group:

    a    = MatMulNBits8(x, [A_1 | A_2 | ...])  -> Split
    y    = dq + s @ [m_1 + 8 d_1 | m_2 + 8 d_2 | ...] + Concat(MatMulNBits8(a_i, B_i * scale) for each i)

Packed q, k and v go to GroupQueryAttention as its packed-QKV input (key and value left empty, as the builder
does when no adapter sits on them); gate and up are split back. At batch 1 most of the time is MatMulNBits
computing in float32 (accuracy level 0), not the node count. See bench/int4_variants.json for timings.
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


def _symmetric_8bit(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Blocks [..., 32] on Q8_0's grid: (q, integers -127..127 as float32; d, the block's max |value| / 127 rounded
    to fp16)."""
    d = (np.abs(blocks).max(-1) / 127).astype(np.float16).astype(np.float32)
    return np.clip(np.rint(blocks / np.where(d == 0, 1, d)[..., None]), -127, 127), d


def recover_q8_0(w: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(q int8 [N, K/32, 32], d float32 [N, K/32]) with d * q == w exactly, or None."""
    n, k = w.shape
    if k % BLOCK:
        return None
    b = w.reshape(n, k // BLOCK, BLOCK).astype(np.float32)
    q, d = _symmetric_8bit(b)
    q = q.astype(np.int8)
    if not np.array_equal(d[..., None] * q, b):
        return None
    return q, d


def quantize_8bit(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A float weight [K, N] (x @ w) -> 8-bit MatMulNBits' B [N, ceil(K/32), 32] (uint8, q + 128: its default zero
    point) and scales [N, ceil(K/32)]: symmetric per block of 32 along K, scales rounded to fp16 (so that they are
    stored exactly in fp16), K padded with zeros to whole blocks."""
    k, n = w.shape
    blocks = -(-k // BLOCK)
    b = np.zeros((n, blocks * BLOCK), np.float32)
    b[:, :k] = np.asarray(w, np.float32).T
    q, d = _symmetric_8bit(b.reshape(n, blocks, BLOCK))
    return (q + 128).astype(np.uint8), d


def pack_4bit(q: np.ndarray) -> np.ndarray:
    """[N, blocks, 32] values 0..15 -> MatMulNBits' B layout [N, blocks, 16] (even index in the low nibble)."""
    return (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)


_FUSED = {"qkv_proj": ("q_proj", "k_proj", "v_proj"), "gate_up_proj": ("gate_proj", "up_proj")}


def _hf_name(layer: str, part: str, proj: str) -> str:
    return f"model.layers.{layer}.{'self_attn' if part == 'attn' else 'mlp'}.{proj}"


# MatMulNBits' accuracy_level for the recovered Q4_1 weights: 0 computes in fp32, 4 quantizes the activations
# to int8 per block. Measured on 40 corpus-test call-outs (greedy text against the fp32 model's): level 0 equal
# on 33/40, chrF 97.5; level 4 equal on 8/40, chrF 74.8, for 7% less time. The Q8_0 head stays at level 4:
# 8-bit MatMulNBits at level 0 de-quantizes per call (31x slower on a 4,096-row head, measured). On the
# grouped graph, level 4's greedy text equals level 0's on 12/40 of those call-outs (chrF 75.8) for 17% less
# time per token. Those figures are from an Intel CPU with AMX; on session 12's AMD CPU (AVX2, no VNNI) level 4
# is 2.2x faster (12.9 against 28.9 ms per token) and keeps more of the text (21/40, chrF 90.4), with the same
# corpus-test J: the export's default (`export.exact_accuracy_level`) is 4 since then.
EXACT_ACCURACY_LEVEL = 0

# MatMulNBits' accuracy level for the 8-bit adapter (`adapter_bits=8`): at level 0 an 8-bit MatMulNBits
# de-quantizes its whole weight on every call (see above), so the adapter computes with int8 activations as well.
ADAPTER_ACCURACY_LEVEL = 4


def rewrite_exact(model_path: Path, base: dict[str, np.ndarray], adapter: dict[str, np.ndarray] | None = None,
                  adapter_scale: float = 1.0, accuracy_level: int = EXACT_ACCURACY_LEVEL,
                  exact_head: bool = True, head_accuracy_level: int = 4, adapter_bits: int = 16) -> dict[str, Any]:
    """Rewrite an onnxruntime-genai int4 decoder (built with the adapter as separate MatMuls, or without one)
    in place; returns what was changed.

    `base`: the de-quantized base weights by Hugging Face name (the GGUF-derived folder's safetensors).
    `adapter`: LoRA weights by `<layer name>.lora_A` / `.lora_B` ([r, in] and [out, r]), scaled by
    `adapter_scale` as in training.

    Projections that read the same input (q, k and v; gate and up) become one group: one MatMulNBits over
    their rows side by side, one block-sum Reshape + ReduceSum, one MatMul for their adapters' A halves, and
    per projection one MatMul of [block sums | its A output] with [[minima]; [its B]]; packed q, k and v go to
    GroupQueryAttention as its packed-QKV input, other groups are split back. See the module docstring.

    `adapter_bits`: 16 stores the adapter in fp16 and computes it in float (exactly the trained update, rounded to
    fp16); 8 stores both halves as 8-bit MatMulNBits (symmetric, blocks of 32 along the input, int8 activations),
    a quarter of the bytes read per token: the minima of a group then get their own float MatMul (one per group),
    so the base stays exact, and the adapter's B halves are one MatMulNBits per projection. A group where some
    projection has no adapter keeps the float adapter."""
    if adapter_bits not in (8, 16):
        raise ValueError(f"adapter_bits must be 8 or 16, not {adapter_bits!r}")
    import onnx
    from onnx import helper, numpy_helper

    model_path = Path(model_path)
    model = onnx.load(str(model_path))
    graph = model.graph
    nodes = list(graph.node)
    new_inits: list[onnx.TensorProto] = []
    insert: dict[int, list[onnx.NodeProto]] = {}  # node index -> nodes that go in before it
    replace: dict[int, list[onnx.NodeProto]] = {}  # node index -> nodes that replace it
    remove: set[int] = set()
    stats: dict[str, Any] = {"exact": 0, "kept_builder_quantization": [], "adapter_float": 0, "adapter_int8": 0,
                             "head": "builder int4", "accuracy_level": accuracy_level, "matmulnbits_groups": 0}

    def const(name: str, array: np.ndarray) -> str:
        new_inits.append(numpy_helper.from_array(array, name))
        return name

    def float_weight(name: str, array: np.ndarray) -> list[onnx.NodeProto]:
        """`name` as a float tensor, stored in fp16 when that holds it exactly (GGUF's scales and minima and
        the fp16-rounded adapter), else in float32. onnxruntime folds the Cast into a float initializer when
        the session loads, before MatMul and MatMulNBits pre-pack their weights."""
        array = np.ascontiguousarray(array, dtype=np.float32)
        half = array.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), array):
            const(name, array)
            return []
        const(f"{name}_fp16", half)
        return [helper.make_node("Cast", [f"{name}_fp16"], [name], to=onnx.TensorProto.FLOAT, name=f"{name}/Cast")]

    def nbits8(x: str, weight: np.ndarray, name: str, out: str) -> list[onnx.NodeProto]:
        """x @ weight ([K, N]) as an 8-bit MatMulNBits (`quantize_8bit`), scales stored in fp16."""
        q, d = quantize_8bit(weight)
        k, n = weight.shape
        const(f"{name}_Q8", q)
        scales = float_weight(f"{name}_Q8_scales", d.reshape(-1))
        return [*scales, helper.make_node("MatMulNBits", [x, f"{name}_Q8", f"{name}_Q8_scales"], [out],
                                          domain="com.microsoft", name=f"{name}/MatMulNBits", K=k, N=n, bits=8,
                                          block_size=BLOCK, accuracy_level=ADAPTER_ACCURACY_LEVEL)]

    def fp16(array: np.ndarray) -> np.ndarray:
        return array.astype(np.float16).astype(np.float32)

    consumers: dict[str, list[int]] = {}
    for i, node in enumerate(nodes):
        for name in node.input:
            consumers.setdefault(name, []).append(i)
    base_nodes: list[tuple[int, tuple[str, str, str]]] = []
    halves: dict[tuple[str, str, str, str], int] = {}
    for i, node in enumerate(nodes):
        match = _LAYER.match(node.input[1]) if node.op_type == "MatMulNBits" else None
        if match and match.group(4):
            halves[match.groups()] = i
        elif match:
            base_nodes.append((i, match.groups()[:3]))

    # 1. recover every base projection's Q4_1 blocks and find its adapter halves and the Add that joins them
    projections: list[dict[str, Any]] = []
    for i, (layer, part, proj) in base_nodes:
        node = nodes[i]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
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
        proj_info = {"index": i, "x": node.input[0], "K": k, "N": n, "q": q, "d": d, "m": m, "out": node.output[0],
                     "name": node.input[1].removesuffix("_Q4"), "lora": None}
        a_i, b_i = halves.get((layer, part, proj, "lora_A")), halves.get((layer, part, proj, "lora_B"))
        if adapter is not None and a_i is not None and b_i is not None:
            assert nodes[a_i].input[0] == node.input[0], (nodes[a_i].name, node.name)
            b_out = nodes[b_i].output[0]
            add = next(j for j in consumers.get(node.output[0], [])
                       if nodes[j].op_type == "Add" and set(nodes[j].input) == {node.output[0], b_out})
            hf = _hf_name(layer, part, proj)
            proj_info["lora"] = (fp16(adapter[f"{hf}.lora_A"].astype(np.float32).T),  # [K, r]
                                 fp16((adapter[f"{hf}.lora_B"].astype(np.float32) * adapter_scale).T))  # [r, N]
            proj_info["out"] = nodes[add].output[0]
            remove.update((a_i, b_i, add))
        remove.add(i)
        projections.append(proj_info)
        stats["exact"] += 1

    # 2. one group per input: packed MatMulNBits (zero point 8), block sums, adapters, one Add
    groups: dict[str, list[dict[str, Any]]] = {}
    for proj_info in projections:
        groups.setdefault(proj_info["x"], []).append(proj_info)
    for x, members in groups.items():
        first = min(p["index"] for p in members)
        k = members[0]["K"]
        blocks = k // BLOCK
        tag = members[0]["name"] if len(members) == 1 else members[0]["name"] + "_packed"
        n_total = sum(p["N"] for p in members)
        new: list[onnx.NodeProto] = []
        new += float_weight(f"{tag}_Q4_1_scales", np.concatenate([p["d"] for p in members]).reshape(-1))
        # MatMulNBits without zero points subtracts 8 from every 4-bit value: d * (q - 8) + (m + 8 d) is the
        # same weight, so the minima term carries m + 8 d (exact in float32, checked)
        shifted = [(p["m"] + 8 * p["d"]).T for p in members]  # [K/32, N] each
        inputs = [x, const(f"{tag}_Q4_1", pack_4bit(np.concatenate([p["q"] for p in members]))), f"{tag}_Q4_1_scales"]
        if not all(np.array_equal(s.astype(np.float64), (p["m"].astype(np.float64) + 8 * p["d"]).T)
                   for s, p in zip(shifted, members)):  # not seen on SmolLM2: then zero points 0 and the minima
            shifted = [p["m"].T for p in members]
            inputs.append(const(f"{tag}_zp0", np.zeros(n_total * ((blocks + 1) // 2), dtype=np.uint8)))
            stats["zero_points_kept"] = stats.get("zero_points_kept", 0) + 1
        y_dq = f"{x}/{tag}/dq"
        new.append(helper.make_node(
            "MatMulNBits", inputs, [y_dq], domain="com.microsoft", name=f"{tag}/MatMulNBits",
            K=k, N=n_total, bits=4, block_size=BLOCK, accuracy_level=accuracy_level))
        sums = f"{x}/block_sums"
        new += [helper.make_node("Reshape", [x, const(f"{x}/block_shape", np.array([0, 0, blocks, BLOCK], np.int64))],
                                 [f"{x}/blocks"], name=f"{x}/Reshape_blocks"),
                helper.make_node("ReduceSum", [f"{x}/blocks", const(f"{x}/block_axes", np.array([-1], np.int64))],
                                 [sums], keepdims=0, name=f"{x}/ReduceSum_blocks")]
        with_lora = [p for p in members if p["lora"] is not None]
        int8 = adapter_bits == 8 and bool(with_lora) and len(with_lora) == len(members)
        a_parts: dict[int, str] = {}
        if with_lora:
            a_weight = np.concatenate([p["lora"][0] for p in with_lora], axis=1)
            if int8:
                new += nbits8(x, a_weight, f"{tag}.lora_A", f"{x}/{tag}/lora_A")
            else:
                new += float_weight(f"{tag}.lora_A", a_weight)
                new.append(helper.make_node("MatMul", [x, f"{tag}.lora_A"], [f"{x}/{tag}/lora_A"],
                                            name=f"{tag}/lora_A/MatMul"))
            if len(with_lora) == 1:
                a_parts[id(with_lora[0])] = f"{x}/{tag}/lora_A"
            else:
                outs = [f"{x}/{p['name']}/lora_A" for p in with_lora]
                sizes = const(f"{tag}.lora_A_split", np.array([p["lora"][0].shape[1] for p in with_lora], np.int64))
                new.append(helper.make_node("Split", [f"{x}/{tag}/lora_A", sizes], outs, axis=-1,
                                            name=f"{tag}/lora_A/Split"))
                a_parts.update({id(p): o for p, o in zip(with_lora, outs)})
        low = []
        if int8:
            # the group's minima in one float MatMul (the base stays exact), each B half an 8-bit MatMulNBits
            new += float_weight(f"{tag}_Q4_1_mins", np.concatenate(shifted, axis=1))
            new.append(helper.make_node("MatMul", [sums, f"{tag}_Q4_1_mins"], [f"{x}/{tag}/mins"],
                                        name=f"{tag}/MatMul_mins"))
            y_dq_mins = f"{x}/{tag}/dq_mins"
            new.append(helper.make_node("Add", [y_dq, f"{x}/{tag}/mins"], [y_dq_mins], name=f"{tag}/Add_mins"))
            y_dq = y_dq_mins
            for p in members:
                low.append(f"{x}/{p['name']}/lora_B")
                new += nbits8(a_parts[id(p)], p["lora"][1], f"{p['name']}.lora_B", low[-1])
            stats["adapter_int8"] += 1 + len(members)
        else:
            stats["adapter_float"] += 2 * len(with_lora)
        for p, s in (() if int8 else zip(members, shifted)):
            out = f"{x}/{p['name']}/low_rank"
            if p["lora"] is None:
                new += float_weight(f"{p['name']}_Q4_1_mins", s)
                new.append(helper.make_node("MatMul", [sums, f"{p['name']}_Q4_1_mins"], [out],
                                            name=f"{p['name']}/MatMul_mins"))
            else:
                # one MatMul for the minima and the adapter: [block sums | x A] @ [[m + 8 d]; [B]]
                weight = f"{p['name']}_Q4_1_mins_lora_B"
                new += float_weight(weight, np.concatenate([s, p["lora"][1]]))
                new += [helper.make_node("Concat", [sums, a_parts[id(p)]], [f"{out}/in"], axis=-1,
                                         name=f"{p['name']}/Concat_sums_lora_A"),
                        helper.make_node("MatMul", [f"{out}/in", weight], [out], name=f"{p['name']}/MatMul_mins_lora_B")]
            low.append(out)
        if len(low) > 1:
            new.append(helper.make_node("Concat", low, [f"{x}/{tag}/low_rank"], axis=-1, name=f"{tag}/Concat_low_rank"))
        finals = [p["out"] for p in members]
        gqa = [j for j in consumers.get(finals[0], []) if nodes[j].op_type == "GroupQueryAttention"]
        packed_qkv = (len(members) == 3 and len(gqa) == 1 and list(nodes[gqa[0]].input[:3]) == finals)
        y = finals[0] if len(members) == 1 else f"{x}/{tag}/out"
        new.append(helper.make_node("Add", [y_dq, low[0] if len(low) == 1 else f"{x}/{tag}/low_rank"], [y],
                                    name=f"{tag}/Add_low_rank"))
        if packed_qkv:  # GroupQueryAttention takes q, k and v packed in its first input
            nodes[gqa[0]].input[:3] = [y, "", ""]
        elif len(members) > 1:
            new.append(helper.make_node("Split", [y, const(f"{tag}_split", np.array([p["N"] for p in members], np.int64))],
                                        finals, axis=-1, name=f"{tag}/Split"))
        insert[first] = new
        stats["matmulnbits_groups"] += 1

    # 3. adapter halves of projections that kept the builder's quantization: float MatMuls
    for (layer, part, proj, half), i in halves.items():
        if adapter is None or i in remove:
            continue
        node = nodes[i]
        w = adapter[f"{_hf_name(layer, part, proj)}.{half}"].astype(np.float32)
        if half == "lora_B":
            w = w * adapter_scale
        weight = node.input[1].removesuffix("_Q4")
        replace[i] = [*float_weight(weight, fp16(w.T)),
                      helper.make_node("MatMul", [node.input[0], weight], list(node.output),
                                       name=node.name.replace("MatMul_Q4", "MatMul"))]
        stats["adapter_float"] += 1

    # 4. the Q8_0 head and embedding
    for i, node in enumerate(nodes):
        if node.op_type != "MatMulNBits" or node.input[1] != "lm_head.MatMul.weight_Q4" or not exact_head:
            continue
        found = recover_q8_0(base["model.embed_tokens.weight"])
        if found is None:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        q, d = found
        n, k = int(attrs["N"]), int(attrs["K"])
        data = const("lm_head.MatMul.weight_Q8_0", (q.astype(np.int16) + 128).astype(np.uint8))
        scales = "lm_head.MatMul.weight_Q8_0_scales"
        zp = const("lm_head.MatMul.weight_Q8_0_zp", np.full(d.shape, 128, dtype=np.uint8))
        replace[i] = [*float_weight(scales, d),
                      helper.make_node("MatMulNBits", [node.input[0], data, scales, zp], list(node.output),
                                       domain="com.microsoft", name="/lm_head/MatMul_Q8", K=k, N=n, bits=8,
                                       block_size=BLOCK, accuracy_level=head_accuracy_level)]
        stats["head"] = "exact Q8_0"
        # the embedding reads the same bytes
        for other in nodes:
            if other.op_type == "GatherBlockQuantized":
                shape = const("lm_head.MatMul.weight_Q8_0_rows", np.array([n, k], dtype=np.int64))
                reshape = next(x for x in nodes if x.output[0] == other.input[0])
                reshape.input[:] = [data, shape]
                other.input[:] = [other.input[0], other.input[1], scales, zp]
                for a in other.attribute:
                    if a.name == "bits":
                        a.i = 8
    out_nodes = []
    for i, node in enumerate(nodes):
        out_nodes.extend(insert.get(i, []))
        if i not in remove:
            out_nodes.extend(replace.get(i, [node]))
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
