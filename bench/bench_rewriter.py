"""Rewriter latency at batch 1 for a 25-word message: `transformers.generate` against the ONNX path, in one run.

    python bench/bench_rewriter.py --run runs/rewriter --bundle bundles/rewriter [--repeats 30]

Systems (same greedy / beam settings on both sides): the PyTorch checkpoint (`run/best`) with
`model.generate`, and `Rewriter.rewrite` on the bundle (numpy + onnxruntime, KV cache), greedy and with
beam candidates; the reranked path also runs the classifier and the similarity embedder. Reports median and
p90 per call after a warm-up, the generated length, and writes JSON and a plot.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

MESSAGE = ("@jordan_k wow, calling the intern a 'diversity hire' in the team channel? Real classy. "
           "She has two degrees and shipped the login fix. Grow up.")


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="rewriter run folder (its best/ checkpoint)")
    parser.add_argument("--bundle", required=True, help="rewriter bundle exported from that run")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="runs/bench_rewriter")
    args = parser.parse_args()

    import torch
    import yaml

    from callinkit import Rewriter
    from callinkit.config import config_from_dict
    from callinkit.train.rewriter import torch_generate
    from callinkit.train.rewriter_model import load_rewriter_checkpoint

    torch.set_num_threads(args.threads)
    words = len(MESSAGE.split())
    run = Path(args.run)
    config = config_from_dict(yaml.safe_load((run / "config.yaml").read_text()), str(run / "config.yaml"))
    model, tokenizer = load_rewriter_checkpoint(run / "best")
    model.eval()
    rewriter = Rewriter.load(args.bundle, threads=args.threads)
    k = config.generation.num_candidates
    gen, max_src = config.generation, config.model.max_source_length
    systems = {
        "transformers.generate greedy": lambda: torch_generate(model, tokenizer, [MESSAGE], gen, max_src, num_beams=1),
        f"transformers.generate beam {gen.num_beams}": lambda: torch_generate(model, tokenizer, [MESSAGE], gen,
                                                                            max_src, num_return=k),
        "onnx Rewriter greedy": lambda: rewriter.rewrite([MESSAGE], num_candidates=1),
        f"onnx Rewriter beam {max(k, gen.num_beams)} + rerank": lambda: rewriter.rewrite([MESSAGE], num_candidates=k),
    }
    results = {}
    for name, fn in systems.items():
        ms = timed(fn, args.repeats)
        output = fn()
        text = output[0][0] if isinstance(output[0], list) else output[0].text
        results[name] = {"median_ms": round(statistics.median(ms), 1),
                         "p90_ms": round(statistics.quantiles(ms, n=10)[-1], 1), "output": text, "ms": ms}
        print(f"{name:<34} median {results[name]['median_ms']:>8.1f} ms  p90 {results[name]['p90_ms']:>8.1f} ms"
              f"  -> {text}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({
        "message": MESSAGE, "words": words, "threads": args.threads, "repeats": args.repeats,
        "bundle": args.bundle, "quantization": rewriter.manifest.get("quantization"), "results": results,
    }, indent=2, ensure_ascii=False) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.5))
    names = list(results)
    ax.boxplot([results[n]["ms"] for n in names], vert=False, tick_labels=names, showfliers=False)
    ax.set_xlabel(f"ms per call (batch 1, {words}-word message, {args.threads} threads)")
    ax.set_title("rewriter latency")
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=120)
    print(f"wrote {out / 'results.json'} and {out / 'latency.png'}")


if __name__ == "__main__":
    main()
