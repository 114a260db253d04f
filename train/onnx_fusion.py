"""onnxruntime's transformer fusions for an exported BERT-family classifier graph.

onnxruntime ships an offline optimizer (`onnxruntime.transformers.optimizer`) that replaces each layer's
self-attention subgraph (three projections, reshapes, transposes, scaled scores, mask, softmax, weighted sum:
about 20 nodes) by one `Attention` node, the residual add + layer norm by `SkipLayerNormalization` and the
bias + GELU by `BiasGelu`. Fewer, larger kernels matter most at batch 1, where per-node overhead is most of
the time; and dynamic int8 quantization then turns `Attention` into `QAttention` (one quantized QKV GEMM).

Its attention pattern expects the classic additive mask, `(1 - mask[:, None, None, :]) * -10000`, added to
scores divided by sqrt(head size). transformers 5 with torch's dynamo exporter builds the mask differently (a
bidirectional boolean mask through Range / GatherND / Where) and multiplies the scores by 1/sqrt(head size), so
nothing fuses. `classic_mask` rewrites those two pieces into the expected form first (the same function: padded
keys still get no weight); the fused graph is checked against PyTorch like any export.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

FUSED_OPS = ("Attention", "SkipLayerNormalization", "BiasGelu", "Gelu", "FastGelu", "LayerNormalization")


def classic_mask(model) -> int:
    """Rewrite, in place, every `Softmax(Add(Mul(scores, scale), mask))` whose mask comes from a `Where` into
    `Softmax(Add(Div(scores, 1/scale), (1 - attention_mask) * -10000))`. Returns the number of attention blocks
    rewritten (0 when the graph does not have this shape; it is then left unchanged)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    inits = {i.name: i for i in graph.initializer}
    blocks = []
    for node in graph.node:
        add = producer.get(node.input[0]) if node.op_type == "Softmax" else None
        if add is None or add.op_type != "Add" or len(add.input) != 2:
            continue
        scaled, mask = (producer.get(x) for x in add.input)
        if scaled is None or mask is None or scaled.op_type != "Mul" or mask.op_type != "Where":
            continue
        scale = inits.get(scaled.input[1])
        if scale is None or int(np.prod(scale.dims)) != 1:
            continue
        blocks.append((add, scaled, float(numpy_helper.to_array(scale).reshape(()))))
    if not blocks or "attention_mask" not in {i.name for i in graph.input}:
        return 0
    graph.initializer.extend([
        numpy_helper.from_array(np.array([1], np.int64), "callinkit_mask_axis1"),
        numpy_helper.from_array(np.array([2], np.int64), "callinkit_mask_axis2"),
        numpy_helper.from_array(np.array(1.0, np.float32), "callinkit_mask_one"),
        numpy_helper.from_array(np.array(-10000.0, np.float32), "callinkit_mask_fill"),
    ])
    mask_nodes = [
        helper.make_node("Unsqueeze", ["attention_mask", "callinkit_mask_axis1"], ["callinkit_mask_u1"],
                         name="callinkit_mask_u1"),
        helper.make_node("Unsqueeze", ["callinkit_mask_u1", "callinkit_mask_axis2"], ["callinkit_mask_u2"],
                         name="callinkit_mask_u2"),
        helper.make_node("Cast", ["callinkit_mask_u2"], ["callinkit_mask_float"], name="callinkit_mask_cast",
                         to=TensorProto.FLOAT),
        helper.make_node("Sub", ["callinkit_mask_one", "callinkit_mask_float"], ["callinkit_mask_inverse"],
                         name="callinkit_mask_sub"),
        helper.make_node("Mul", ["callinkit_mask_inverse", "callinkit_mask_fill"], ["callinkit_mask"],
                         name="callinkit_mask_mul"),
    ]
    for add, scaled, scale in blocks:
        add.input[1] = "callinkit_mask"
        divisor = f"{scaled.name}_divisor"
        graph.initializer.append(numpy_helper.from_array(np.array(1.0 / scale, np.float32), divisor))
        scaled.op_type = "Div"  # the fusion's pattern divides by sqrt(head size)
        scaled.input[1] = divisor
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(mask_nodes + nodes)  # the optimizer below drops the now-unused Where mask
    return len(blocks)


def fuse_bert(src: Path, dst: Path, num_heads: int, hidden_size: int) -> dict[str, int]:
    """Write `src` with onnxruntime's BERT fusions applied to `dst`; returns the count of each fused op (plus
    `masks_rewritten`). Attention uses the raw 2-D mask, so left padding or holes in the mask stay correct."""
    import onnx
    from onnxruntime.transformers.fusion_options import AttentionMaskFormat, FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    model = onnx.load(str(src))
    rewritten = classic_mask(model)
    staged = dst.with_name(dst.stem + ".mask.onnx")
    onnx.save(model, str(staged))
    options = FusionOptions("bert")
    options.attention_mask_format = AttentionMaskFormat.AttentionMask
    quiet = logging.getLogger("onnxruntime.transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        optimized = optimize_model(str(staged), model_type="bert", num_heads=num_heads, hidden_size=hidden_size,
                                   optimization_options=options, opt_level=0)
        optimized.save_model_to_file(str(dst))
    finally:
        quiet.setLevel(level)
        staged.unlink(missing_ok=True)
    counts = {op: 0 for op in FUSED_OPS}
    for node in onnx.load(str(dst)).graph.node:
        if node.op_type in counts:
            counts[node.op_type] += 1
    return {"masks_rewritten": rewritten, **{op: n for op, n in counts.items() if n}}
