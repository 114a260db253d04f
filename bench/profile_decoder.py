"""Where one decode step of a v2 bundle's decoder spends its time, by operator type (onnxruntime's profiler).

    python -m bench.profile_decoder bundles/rewriter_lm_op4e [bundles/rewriter_lm_op4q8 ...] [--past 100] [--steps 50]

Each bundle's `model.onnx` runs one new token after `past` tokens of (random) KV cache, `steps` times after five
warm-up steps, with 2 intra-op threads; prints wall time per step, the kernel time per operator type and the
largest single nodes. The profiler adds its own overhead to the wall time; compare bundles within one call.
"""
from __future__ import annotations

import argparse
import collections
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def profile(folder: Path, past: int, steps: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:  # onnxruntime writes its profile here; read, then removed
        return _profile(folder, past, steps, threads, Path(tmp))


def _profile(folder: Path, past: int, steps: int, threads: int, tmp: Path) -> dict:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp / "profile")
    options.log_severity_level = 3
    session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        dtype = np.int64 if "int64" in i.type else np.int32
        if i.name == "input_ids":
            feeds[i.name] = np.array([[42]], dtype)
        elif i.name == "attention_mask":
            feeds[i.name] = np.ones((1, past + 1), dtype)
        elif i.name == "position_ids":
            feeds[i.name] = np.array([[past]], dtype)
        elif i.name.startswith("past_key_values"):
            kv_heads, head_size = i.shape[1], i.shape[3]
            if not isinstance(kv_heads, int) or not isinstance(head_size, int):  # symbolic: read genai_config.json
                decoder = json.loads((folder / "genai_config.json").read_text())["model"]["decoder"]
                kv_heads, head_size = decoder["num_key_value_heads"], decoder["head_size"]
            feeds[i.name] = np.random.default_rng(0).standard_normal((1, kv_heads, past, head_size), np.float32)
        else:
            raise SystemExit(f"{folder}: unexpected decoder input {i.name}")
    for _ in range(5):
        session.run(None, feeds)
    start = time.perf_counter()
    for _ in range(steps):
        session.run(None, feeds)
    wall = 1000 * (time.perf_counter() - start) / steps
    events = json.loads(Path(session.end_profiling()).read_text())
    by_op, count, by_node = collections.Counter(), collections.Counter(), collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            by_op[e["args"]["op_name"]] += e["dur"]
            count[e["args"]["op_name"]] += 1
            by_node[e["name"].removesuffix("_kernel_time")] += e["dur"]
    runs = steps + 5
    return {"wall_ms_per_step": wall, "kernel_ms_per_step": sum(by_op.values()) / runs / 1000,
            "by_op": {op: (d / runs / 1000, count[op] // runs) for op, d in by_op.most_common()},
            "top_nodes": [(n, d / runs / 1000) for n, d in by_node.most_common(5)]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_decoder", description=__doc__.split("\n\n")[0])
    parser.add_argument("bundles", nargs="+", type=Path)
    parser.add_argument("--past", type=int, default=100)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    for folder in args.bundles:
        p = profile(folder, args.past, args.steps, args.threads)
        print(f"{folder}: {p['wall_ms_per_step']:.1f} ms per step (profiled), kernels {p['kernel_ms_per_step']:.1f} ms")
        for op, (ms, nodes) in list(p["by_op"].items())[:8]:
            print(f"  {op:34s} {ms:6.2f} ms  {nodes:4d} nodes")
        print("  largest nodes: " + ", ".join(f"{n} {ms:.2f} ms" for n, ms in p["top_nodes"][:3]))


if __name__ == "__main__":
    main()
