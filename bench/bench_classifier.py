"""Classifier latency: the ONNX bundle (`Classifier.predict`) against the PyTorch checkpoint, in one run.

    python bench/bench_classifier.py --run runs/quickstart --bundle bundles/quickstart [--fp32-bundle DIR]

Measures median and p90 latency per call at batch 1 and batch 32 on corpus test texts (after warm-up),
reports bundle sizes and the run's training time per 1k examples, and writes JSON and a latency plot.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def timed(fn, batches, repeats: int) -> list[float]:
    fn(batches[0])  # warm-up
    out = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(batches[i % len(batches)])
        out.append((time.perf_counter() - start) * 1000)
    return out


def size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="classifier run folder (its best/ checkpoint)")
    parser.add_argument("--bundle", required=True, action="append", help="bundle folder(s) to time")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", default="runs/bench_classifier")
    args = parser.parse_args()

    import torch
    import yaml

    from callinkit import Classifier
    from callinkit.corpus import KINDS, classification_rows, read_records, read_splits
    from callinkit.train.evaluation import torch_scorer

    torch.set_num_threads(2)
    texts = [r["text"] for r in classification_rows({k: read_records(k) for k in KINDS}, read_splits())
             if r["split"] == "test"]
    run = Path(args.run)
    max_length = yaml.safe_load((run / "config.yaml").read_text())["model"]["max_length"]
    _, torch_probs = torch_scorer(run / "best", max_length=max_length)
    systems = {"pytorch": torch_probs}
    for b in args.bundle:
        clf = Classifier.load(b)
        systems[f"onnx:{Path(b).name} ({clf.manifest['quantization']})"] = clf.predict
    results = {}
    for batch in (1, 32):
        batches = [texts[i:i + batch] for i in range(0, batch * args.repeats, batch)]
        for name, fn in systems.items():
            ms = timed(fn, batches, args.repeats)
            results[f"{name} batch={batch}"] = {"median_ms": round(statistics.median(ms), 2),
                                                "p90_ms": round(sorted(ms)[int(0.9 * len(ms))], 2)}
    info = json.loads((run / "run_info.json").read_text())
    report = {"latency": results, "bundle_mb": {b: size_mb(Path(b)) for b in args.bundle},
              "seconds_per_1k_train_examples": info["training"]["seconds_per_1k_examples"],
              "threads": torch.get_num_threads()}
    print(f"{'system':<50} {'median ms':>10} {'p90 ms':>8}")
    for name, r in results.items():
        print(f"{name:<50} {r['median_ms']:>10.2f} {r['p90_ms']:>8.2f}")
    print("bundle sizes (MB):", report["bundle_mb"])
    print("training seconds per 1k examples:", report["seconds_per_1k_train_examples"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_classifier.json").write_text(json.dumps(report, indent=2) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=120)
    names = list(results)
    ax.barh(names, [results[n]["median_ms"] for n in names])
    ax.set_xscale("log")
    ax.set_xlabel("median latency per call (ms, log scale)")
    ax.set_title("Classifier latency: ONNX bundle vs PyTorch")
    fig.tight_layout()
    fig.savefig(out / "latency.png")
    print(f"wrote {out / 'bench_classifier.json'} and {out / 'latency.png'}")


if __name__ == "__main__":
    main()
