"""Every speed benchmark in one run, with the machine's own limits beside them: `python -m bench`.

    python -m bench [--classifier-run runs/release/classifier_v2] [--rewriter-run runs/rewriter_lm] [--quick]

Writes bench/RESULTS.md (commit it), bench/results.json and bench/plots/*.png. Each figure is a median over
repeats after a warm-up, with p90 / p99 and min-max; every ratio is measured side by side in this run (absolute
times drift on a shared machine). Baselines that need PyTorch checkpoints (the classifier's and the rewriter's
run folders) are skipped, and said so, when the folders are absent.

What it measures:
  - the machine: CPU model, cores, SIMD flags; fp32 GEMM and int8 GEMM (onnxruntime MatMulInteger) in
    GFLOP/s / GOP/s, and memory bandwidth (GB/s, a large copy);
  - the classifier: batch 1 latency, ONNX int8 against transformers/PyTorch fp32 (target: >= 5x lower
    median), and batch 32 throughput on corpus test texts (target: >= 1,000 messages/s), as a share of the
    int8 GEMM peak;
  - the rewriter (v2 bundles): greedy ms per generated token after the prompt against the roofline
    weight-bytes / bandwidth and against `generate()` on the same checkpoint (targets: <= 10 ms/token, >= 4x),
    and k = 1 / 4 / 8 reranked candidates (target: k candidates cost less than k x one);
  - the server: /v1/classify from 1, 8 and 32 concurrent clients (a load generator in this process, the
    server in a subprocess on loopback, 400 requests per level) against Classifier.predict from as many
    threads (target: >= 80% of the library's throughput at 32), with `bench/plots/server_latency.png`;
  - training: examples/s and real tokens/s of both recipes with random and length-grouped batches
    (bench/bench_training.py; needs torch);
  - the accuracy next to each: classifier corpus-test macro-F1 and rewriter J from the bundles' eval.json.
`--no-server` and `--no-training` skip those two parts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MESSAGE = ("@dan_r you absolute clown, that CDC stat is fake and everyone can see it, so delete this before "
           "more people share it around the group today.")  # 25 words


def stats(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)

    def q(p: float) -> float:
        return s[min(len(s) - 1, int(round(p * (len(s) - 1))))]

    return {"median_ms": statistics.median(s), "p90_ms": q(0.9), "p99_ms": q(0.99), "min_ms": s[0], "max_ms": s[-1],
            "n": len(s)}


def timed(fn, repeats: int, warmup: int = 2) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return stats(out)


# -- the machine -------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {"cores": os.cpu_count(), "platform": platform.platform(),
                            "python": platform.python_version(), "load_average_1m": os.getloadavg()[0]}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                            if line.startswith("model name")), "unknown")
        flags = set(next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines()
                          if line.startswith("flags")), []))
        info["flags"] = sorted(f for f in flags if f in {"avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni",
                                                           "avx_vnni", "amx_int8", "amx_bf16", "avx512_bf16"})
    except OSError:
        info["cpu"], info["flags"] = platform.processor() or "unknown", []
    versions = {}
    for name in ("numpy", "onnxruntime", "onnxruntime_genai", "tokenizers", "torch", "transformers"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # not installed (the inference install has no torch)
            versions[name] = None
    info["versions"] = versions
    return info


def fp32_gemm_gflops(n: int = 2048, repeats: int = 5) -> float:
    import numpy as np

    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    r = timed(lambda: a @ b, repeats, warmup=1)
    return 2 * n ** 3 / (r["median_ms"] / 1000) / 1e9


def int8_gemm_gops(n: int = 2048, repeats: int = 5) -> float:
    """onnxruntime's MatMulInteger (uint8 x int8 -> int32), the op dynamic int8 models run on."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    node = helper.make_node("MatMulInteger", ["A", "B"], ["Y"])
    graph = helper.make_graph([node], "gemm", [helper.make_tensor_value_info("A", TensorProto.UINT8, [n, n]),
                                               helper.make_tensor_value_info("B", TensorProto.INT8, [n, n])],
                              [helper.make_tensor_value_info("Y", TensorProto.INT32, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {"A": rng.integers(0, 255, (n, n), dtype=np.uint8), "B": rng.integers(-127, 127, (n, n), dtype=np.int8)}
    onnx.checker.check_model(model)
    r = timed(lambda: session.run(None, feed), repeats, warmup=1)
    return 2 * n ** 3 / (r["median_ms"] / 1000) / 1e9


def bandwidth_gbs(mb: int = 512, repeats: int = 5) -> float:
    import numpy as np

    src = np.ones(mb * 1024 * 1024 // 8, dtype=np.float64)
    dst = np.empty_like(src)
    r = timed(lambda: np.copyto(dst, src), repeats, warmup=1)
    return 2 * src.nbytes / (r["median_ms"] / 1000) / 1e9  # read + write


# -- the classifier ----------------------------------------------------------------------------------------


def corpus_texts(n: int) -> list[str]:
    from callinkit.corpus import KINDS, classification_rows, read_records, read_splits

    rows = [r for r in classification_rows({k: read_records(k) for k in KINDS}, read_splits()) if r["split"] == "test"]
    return [r["text"] for r in rows[:: max(1, len(rows) // n)]][:n]


def bench_classifier(run: Path | None, quick: bool, int8_gops: float) -> dict[str, Any]:
    import numpy as np

    from callinkit import Classifier

    clf = Classifier.load()
    texts = corpus_texts(256)
    one = "nobody asked you, log off and take your fake CDC numbers with you"  # 12 words
    reps1, reps32 = (60, 6) if quick else (300, 20)
    out: dict[str, Any] = {"bundle": str(clf.bundle_dir), "quantization": clf.manifest.get("quantization")}
    out["onnx_batch1"] = timed(lambda: clf.predict([one]), reps1)
    batches = [texts[i:i + 32] for i in range(0, len(texts), 32)]
    state = {"i": 0}

    def next_batch():
        clf.predict(batches[state["i"] % len(batches)])
        state["i"] += 1

    out["onnx_batch32"] = timed(next_batch, reps32)
    out["messages_per_s_batch32"] = 32 / (out["onnx_batch32"]["median_ms"] / 1000)
    # A backlog as `callinkit score` and the server's batcher hand it over: all 256 texts in one call, which
    # the classifier runs as length-sorted batches of 32, each padded only to its own longest text.
    out["onnx_stream256"] = timed(lambda: clf.predict(texts), max(3, reps32 // 2))
    out["messages_per_s_stream"] = len(texts) / (out["onnx_stream256"]["median_ms"] / 1000)
    lengths = np.array([sum(e.attention_mask) for e in clf.tokenizer.encode_batch(texts)])
    tokens = lengths.mean()
    # Encoder FLOPs per message: 2 x (non-embedding weights) x tokens (attention's own share is small at these
    # lengths). MiniLM-L6: 6 x (4 x 384^2 + 2 x 384 x 1536) = 10.6M weights, 21.2 MFLOP per token. (Until
    # session 12 this used 21.3M as the weight count, which doubled the share of the peak reported.)
    config = json.loads((clf.bundle_dir / "config.json").read_text())
    h, inner = int(config["hidden_size"]), int(config["intermediate_size"])
    weights = int(config["num_hidden_layers"]) * (4 * h * h + 2 * h * inner)
    flops = 2 * weights * tokens
    out["encoder_weights"] = weights
    out["mean_tokens"] = float(tokens)
    out["share_of_int8_peak"] = out["messages_per_s_batch32"] * flops / (int8_gops * 1e9)
    out["share_of_int8_peak_stream"] = out["messages_per_s_stream"] * flops / (int8_gops * 1e9)

    def padded_per_real(order: np.ndarray) -> float:  # batches of 32 in this order, each padded to its longest
        return float(sum(order[i:i + 32].max() * len(order[i:i + 32]) for i in range(0, len(order), 32)) / order.sum())

    from callinkit.serve.classifier import length_groups

    per_call = [length_groups(lengths[i:i + 32], 32) for i in range(0, len(lengths), 32)]
    out["padded_per_real_token"] = {"input_order": padded_per_real(lengths),
                                    "length_sorted": padded_per_real(np.sort(lengths)),
                                    # what Classifier.logits computes for each call of 32 texts
                                    "calls_of_32_grouped": float(sum(len(g) * lengths[i * 32:][g].max()
                                                                     for i, gs in enumerate(per_call) for g in gs)
                                                                 / lengths.sum())}
    out["groups_per_call_of_32"] = float(np.mean([len(gs) for gs in per_call]))
    out["graph"] = {"fusion": clf.manifest.get("validation", {}).get("fusion"),
                    "fp32_layers": clf.manifest.get("validation", {}).get("fp32_layers")}
    if run is not None and (run / "best" / "config.json").is_file():
        try:
            import torch
            from transformers import AutoModelForSequenceClassification, AutoTokenizer
        except ImportError:
            out["torch_batch1"] = None
        else:
            torch.set_num_threads(os.cpu_count() or 1)
            tok = AutoTokenizer.from_pretrained(run / "best")
            model = AutoModelForSequenceClassification.from_pretrained(run / "best").eval()

            def torch_predict():
                with torch.no_grad():
                    enc = tok([one], return_tensors="pt", truncation=True, max_length=clf.max_length,
                              return_token_type_ids=False)
                    torch.softmax(model(**enc).logits, -1).numpy()

            out["torch_batch1"] = timed(torch_predict, reps1)
            out["speedup_batch1"] = out["torch_batch1"]["median_ms"] / out["onnx_batch1"]["median_ms"]
    evaluation = clf.bundle_dir / "eval.json"
    if evaluation.is_file():
        result = json.loads(evaluation.read_text())["results"].get("callin_corpus:test", {})
        out["corpus_test_macro_f1"] = result.get("macro_f1")
    return out


# -- the rewriter ------------------------------------------------------------------------------------------


def bench_rewriter(run: Path | None, quick: bool, bandwidth: float, bundle: Path | None = None) -> dict[str, Any]:
    from callinkit import Rewriter

    rewriter = Rewriter.load(bundle)
    out: dict[str, Any] = {"bundle": str(rewriter.bundle_dir), "architecture": rewriter.manifest.get("architecture",
                                                                                                     "seq2seq")}
    if not hasattr(rewriter, "candidates"):
        out["skipped"] = ("this rewriter is release 1 (encoder-decoder); pass --rewriter-bundle with a v2 bundle "
                          "for the v2 figures")
        return out
    reps = 4 if quick else 12
    tokenizer = rewriter.tokenizer
    text = rewriter.candidates(MESSAGE, 1)[0]
    new_tokens = len(tokenizer.encode(text).ids) + 1
    greedy = timed(lambda: rewriter.candidates(MESSAGE, 1), reps)
    # Prompt cost: one new token.
    first = timed(lambda: rewriter.candidates(MESSAGE, 1, max_new_tokens=1), reps)
    out["greedy"] = {**greedy, "new_tokens": new_tokens, "text": text}
    out["prompt_ms"] = first["median_ms"]
    if hasattr(rewriter, "prefix_generators"):  # the same calls with a fresh generator each (no kept prefix)
        kept, rewriter.prefix_generators = rewriter.prefix_generators, 0
        out["greedy_fresh_generator"] = timed(lambda: rewriter.candidates(MESSAGE, 1), reps)
        out["prompt_ms_fresh_generator"] = timed(lambda: rewriter.candidates(MESSAGE, 1, max_new_tokens=1),
                                                 reps)["median_ms"]
        rewriter.prefix_generators = kept
    out["ms_per_token_after_prompt"] = (greedy["median_ms"] - first["median_ms"]) / max(1, new_tokens - 1)
    weights = sum(p.stat().st_size for p in rewriter.bundle_dir.iterdir() if p.name.startswith("model.onnx"))
    out["weight_bytes"] = weights
    out["roofline_ms_per_token"] = weights / (bandwidth * 1e9) * 1000
    for k in (1, 4, 8):
        out[f"rewrite_k{k}"] = timed(lambda k=k: rewriter.rewrite([MESSAGE], num_candidates=k), max(3, reps // 2))
    if run is not None and (run / "best" / "config.json").is_file():
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            return out
        from callinkit.lm_prompt import IM_END, render_prompt

        tok = AutoTokenizer.from_pretrained(run / "best")
        model = AutoModelForCausalLM.from_pretrained(run / "best").eval()
        prompt = tok(render_prompt(MESSAGE, None, rewriter.system), return_tensors="pt", add_special_tokens=False)
        eos = tok.convert_tokens_to_ids(IM_END)

        def hf():
            with torch.no_grad():
                model.generate(**prompt, max_new_tokens=int(rewriter.generation["max_new_tokens"]), do_sample=False,
                               eos_token_id=eos, pad_token_id=0)

        out["generate_fp32"] = timed(hf, max(3, reps // 2), warmup=1)
        out["speedup_vs_generate"] = out["generate_fp32"]["median_ms"] / greedy["median_ms"]
    evaluation = rewriter.bundle_dir / "eval.json"
    if evaluation.is_file():
        table = json.loads(evaluation.read_text()).get("table", {})
        row = table.get("corpus_test", {}).get("model_reranked", {})
        out["corpus_test_j"] = row.get("j")
        out["corpus_test_eval"] = {k: row.get(k) for k in ("n", "answered")}
    return out


# -- the report --------------------------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "not met")


def graph_name(c: dict[str, Any]) -> str:
    """'int8 ONNX, fused (6 Attention), layers 0-1 fp32' from the bundle's manifest, as far as it says."""
    graph = c.get("graph") or {}
    parts = [f"{c.get('quantization') or 'fp32'} ONNX"]
    fusion = graph.get("fusion")
    parts.append(f"fused ({fusion.get('Attention', 0)} Attention)" if fusion else "unfused")
    if graph.get("fp32_layers"):
        parts.append("layers " + "-".join(str(x) for x in graph["fp32_layers"][::max(1, len(graph["fp32_layers"]) - 1)])
                     + " fp32")
    return ", ".join(parts)


def report(results: dict[str, Any]) -> str:
    m, c, r = results["machine"], results["classifier"], results["rewriter"]
    lines = ["# Benchmark results", "",
             f"`{results['command']}`, {results['date']}; "
             f"{results['seconds']:.0f} s in all. Medians after warm-up; p90 / p99 and min-max in "
             "`bench/results.json`. Ratios are measured side by side in this run.", "",
             "## Machine", "",
             f"- CPU: {m['cpu']}, {m['cores']} cores; flags: {', '.join(m['flags']) or 'none of AVX2/AVX-512/VNNI/AMX'}",
             f"- load average (1 min) at start: {m['load_average_1m']:.2f}",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items() if v),
             f"- fp32 GEMM (numpy, 2048^3): **{results['peaks']['fp32_gflops']:.1f} GFLOP/s**; int8 GEMM "
             f"(onnxruntime MatMulInteger, 2048^3): **{results['peaks']['int8_gops']:.1f} GOP/s**; memory bandwidth "
             f"(512 MB copy, read + write): **{results['peaks']['bandwidth_gbs']:.1f} GB/s**", "",
             "## Targets", "",
             "| target | measured | baseline (same run) | ratio | met | accuracy beside it |",
             "|---|---|---|---|---|---|"]
    f1 = c.get("corpus_test_macro_f1")
    acc = f"corpus-test macro-F1 {f1:.3f}" if f1 is not None else ""
    if c.get("torch_batch1"):
        lines.append(f"| classifier batch 1: >= 5x lower median latency than PyTorch | {c['onnx_batch1']['median_ms']:.2f} ms "
                     f"({graph_name(c)}) | {c['torch_batch1']['median_ms']:.2f} ms (PyTorch fp32) | {c['speedup_batch1']:.1f}x | "
                     f"{verdict(c['speedup_batch1'] >= 5)} | {acc} |")
    else:
        lines.append(f"| classifier batch 1: >= 5x lower median latency than PyTorch | {c['onnx_batch1']['median_ms']:.2f} ms | "
                     "no checkpoint given | - | n/a | " + acc + " |")
    pad = c["padded_per_real_token"]
    grouped = (f"; run as {c['groups_per_call_of_32']:.1f} length groups per call, padded/real tokens "
               f"{pad['calls_of_32_grouped']:.2f}" if "calls_of_32_grouped" in pad else "")
    lines.append(f"| classifier batch 32: >= 1,000 messages/s | {c['messages_per_s_batch32']:,.0f} msg/s "
                 f"({c['mean_tokens']:.0f} tokens on average{grouped}) | int8 GEMM peak | {c['share_of_int8_peak']:.0%} of peak | "
                 f"{verdict(c['messages_per_s_batch32'] >= 1000)} | {acc} |")
    lines.append(f"| classifier, 256 messages in one call (length-sorted batches of 32): >= 1,000 messages/s | "
                 f"{c['messages_per_s_stream']:,.0f} msg/s (padded/real tokens {pad['length_sorted']:.2f}, "
                 f"{pad['input_order']:.2f} in input order) | int8 GEMM peak | {c['share_of_int8_peak_stream']:.0%} of "
                 f"peak | {verdict(c['messages_per_s_stream'] >= 1000)} | {acc} |")
    if r.get("skipped"):
        lines.append(f"| rewriter v2 | - | - | - | n/a | {r['skipped']} |")
    else:
        j = r.get("corpus_test_j")
        ev = r.get("corpus_test_eval") or {}
        jtxt = "" if j is None else (f"corpus-test J {j:.3f} (the bundle's eval.json: n={ev['n']}, guard answers "
                                     f"{ev['answered']:.0%})" if ev.get("n") else f"corpus-test J {j:.3f}")
        fresh = (f", {r['prompt_ms_fresh_generator']:.0f} ms without the kept prompt prefix; whole rewrite "
                 f"{r['greedy']['median_ms']:.0f} ms, {r['greedy_fresh_generator']['median_ms']:.0f} ms without"
                 if r.get("greedy_fresh_generator") else "")
        lines.append(f"| rewriter greedy: <= 10 ms per generated token after the prompt | "
                     f"{r['ms_per_token_after_prompt']:.1f} ms/token ({r['greedy']['new_tokens']} tokens; prompt "
                     f"{r['prompt_ms']:.0f} ms{fresh}) | roofline {r['roofline_ms_per_token']:.1f} ms/token (weights / bandwidth) | "
                     f"{r['roofline_ms_per_token'] / r['ms_per_token_after_prompt']:.0%} of roofline | "
                     f"{verdict(r['ms_per_token_after_prompt'] <= 10)} | {jtxt} |")
        if r.get("generate_fp32"):
            lines.append(f"| rewriter greedy: >= 4x faster than generate() | {r['greedy']['median_ms']:.0f} ms | "
                         f"{r['generate_fp32']['median_ms']:.0f} ms (generate, fp32) | {r['speedup_vs_generate']:.1f}x | "
                         f"{verdict(r['speedup_vs_generate'] >= 4)} | {jtxt} |")
        k1, k4, k8 = (r[f"rewrite_k{k}"]["median_ms"] for k in (1, 4, 8))
        lines.append(f"| k candidates cost less than k x one | k=4 {k4:.0f} ms, k=8 {k8:.0f} ms | k=1 {k1:.0f} ms | "
                     f"{k4 / k1:.1f}x, {k8 / k1:.1f}x | {verdict(k4 < 4 * k1 and k8 < 8 * k1)} | {jtxt} |")
    srv = results.get("server")
    if srv and srv.get("server"):
        at = {row["concurrency"]: row for row in srv["server"]}
        lib = {row["concurrency"]: row for row in srv["direct"]}
        top = max(at)
        share = at[top]["throughput_rps"] / lib[top]["throughput_rps"]
        lines.append(f"| server /v1/classify at {top} concurrent clients: >= 80% of the library's throughput | "
                     f"{at[top]['throughput_rps']:.0f} requests/s (p50 {at[top]['p50_ms']:.1f} ms, p99 "
                     f"{at[top]['p99_ms']:.1f} ms; mean batch {at[top]['mean_batch_size']:.1f}) | "
                     f"{lib[top]['throughput_rps']:.0f} calls/s (Classifier.predict from {top} threads) | {share:.0%} | "
                     f"{verdict(share >= 0.8)} | {acc} |")
        h = srv.get("healthz")
        if h:
            lines.append(f"| (the HTTP stack's ceiling here: GET /healthz, no model work, {h['concurrency']} clients) | "
                         f"{h['throughput_rps']:.0f} requests/s (p50 {h['p50_ms']:.1f} ms) | {lib[top]['throughput_rps']:.0f} "
                         f"calls/s (the library, as above) | {h['throughput_rps'] / lib[top]['throughput_rps']:.0%} | - | "
                         "load generator and server share the CPU |")
    elif srv is not None:
        lines.append(f"| server at 32 concurrent clients | - | - | - | n/a | {srv.get('skipped', 'not run')} |")
    trn = results.get("training")
    if trn:
        lines += ["", "## Training throughput (no target; forward + backward + AdamW per step, this CPU)", "",
                  "| recipe | batches | examples/s | real tokens/s | s/step | padded / real tokens |",
                  "|---|---|---|---|---|---|"]
        for recipe, r in trn.items():
            if r.get("skipped"):
                lines.append(f"| {recipe} | - | - | - | - | {r['skipped']} |")
                continue
            for name, label in (("random", "random"), ("length_grouped", "length-grouped")):
                x = r[name]
                lines.append(f"| {recipe} ({r['config']}, batch {r['batch_size']}) | {label} | "
                             f"{x['examples_per_s']:.1f} | {x['real_tokens_per_s']:,.0f} | {x['seconds_per_step']:.2f} | "
                             f"{x['padded_per_real_token']:.2f} |")
    plots = ["`bench/plots/latency.png`"] + (["`bench/plots/server_latency.png`"] if srv and srv.get("server") else [])
    lines += ["", "Plots: " + ", ".join(plots) + ".", ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    c, r = results["classifier"], results["rewriter"]
    rows.append(("classifier batch 1, ONNX int8", c["onnx_batch1"]))
    if c.get("torch_batch1"):
        rows.append(("classifier batch 1, PyTorch", c["torch_batch1"]))
    rows.append(("classifier batch 32, ONNX int8", c["onnx_batch32"]))
    if not r.get("skipped"):
        rows.append(("rewriter greedy, genai", r["greedy"]))
        if r.get("generate_fp32"):
            rows.append(("rewriter greedy, generate()", r["generate_fp32"]))
        rows += [(f"rewrite k={k}", r[f"rewrite_k{k}"]) for k in (1, 4, 8)]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.2))
    names = [n for n, _ in rows]
    med = [s["median_ms"] for _, s in rows]
    ax.barh(names, med, xerr=[[m - s["min_ms"] for m, (_, s) in zip(med, rows)],
                              [s["p90_ms"] - m for m, (_, s) in zip(med, rows)]], color="#4c78a8")
    ax.set_xscale("log")
    ax.set_xlabel("ms per call (median; bars min..p90)")
    ax.invert_yaxis()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier-run", type=Path, default=Path("runs/release/classifier_v2"),
                        help="the shipped classifier's run folder, for the PyTorch baseline")
    parser.add_argument("--rewriter-run", type=Path, default=Path("runs/rewriter_lm"),
                        help="the v2 rewriter's run folder, for the generate() baseline")
    parser.add_argument("--rewriter-bundle", type=Path, default=None,
                        help="a v2 rewriter bundle exported from that run (default: the shipped rewriter)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run, not for RESULTS.md)")
    parser.add_argument("--no-server", action="store_true", help="skip the server load test")
    parser.add_argument("--no-training", action="store_true", help="skip the training throughput (needs torch)")
    parser.add_argument("--out", type=Path, default=HERE, help="where RESULTS.md, results.json and plots/ go")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    command = "python -m bench" + "".join(" " + shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    results: dict[str, Any] = {"command": command, "quick": args.quick, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                               "machine": machine()}
    print("machine limits ...", flush=True)
    results["peaks"] = {"fp32_gflops": fp32_gemm_gflops(), "int8_gops": int8_gemm_gops(),
                        "bandwidth_gbs": bandwidth_gbs()}
    print("classifier ...", flush=True)
    results["classifier"] = bench_classifier(args.classifier_run, args.quick, results["peaks"]["int8_gops"])
    print("rewriter ...", flush=True)
    results["rewriter"] = bench_rewriter(args.rewriter_run, args.quick, results["peaks"]["bandwidth_gbs"],
                                         args.rewriter_bundle)
    if not args.no_server:
        print("server ...", flush=True)
        from bench import bench_server

        results["server"] = bench_server.run(Path(results["classifier"]["bundle"]), 100 if args.quick else 400,
                                             [1, 8, 32])
        (args.out / "plots").mkdir(parents=True, exist_ok=True)
        bench_server.plot(results["server"], args.out / "plots" / "server_latency.png")
    if not args.no_training:
        print("training ...", flush=True)
        from bench import bench_training

        try:
            results["training"] = bench_training.run(2 if args.quick else 10, 1 if args.quick else 6)
        except ImportError as exc:  # the inference install has no torch
            results["training"] = {"all": {"skipped": f"needs the [train] extra ({exc})"}}
    results["seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out / "plots" / "latency.png")
    text = report(results)
    (args.out / "RESULTS.md").write_text(text)
    print(text)
    return results


if __name__ == "__main__":
    main()
