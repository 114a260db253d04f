"""Classifier graph variants side by side: which export choices make the ONNX classifier faster, and what they cost.

    python -m bench.classifier_variants --run runs/release/classifier_v4 [--rounds 6] [--out bench/classifier_variants.json]

From one trained run it exports the fp32 graph once, then builds: the plain graph (fp32, and int8 with every
layer and with layers 0-1 kept fp32) and the graph with onnxruntime's transformer fusions (train/onnx_fusion.py;
the same three). Each is timed model-only (`session.run`, 2 intra-op threads) in turns, so load on a shared
machine hits them alike: batch 1 (a 12-word message) and calls of 32 corpus test texts, both as one padded
batch and as `Classifier.logits` runs them (length groups). Label agreement with the fp32 graph is on 256
corpus test texts. Writes JSON and a bar plot (bench/plots/classifier_variants.png).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

ONE = "nobody asked you, log off and take your fake CDC numbers with you"  # as in python -m bench


def build(run: Path, work: Path) -> dict[str, Path]:
    import yaml

    from callinkit.train.export import export_classifier, quantize_int8
    from callinkit.train.onnx_fusion import fuse_bert

    config = yaml.safe_load((run / "config.yaml").read_text())
    plain_run = work / "run"
    plain_run.mkdir()
    for item in run.iterdir():  # the run as it is, exported without fusion
        (plain_run / item.name).symlink_to(item.resolve())
    (plain_run / "config.yaml").unlink()
    config["export"]["fuse"] = False
    (plain_run / "config.yaml").write_text(yaml.safe_dump(config))
    export_classifier(plain_run, work / "bundle", quantize="none")
    model_config = json.loads((run / "best" / "config.json").read_text())
    n_layers = int(model_config["num_hidden_layers"])
    paths = {"plain fp32": work / "bundle" / "model.onnx", "fused fp32": work / "fused_fp32.onnx"}
    fuse_bert(paths["plain fp32"], paths["fused fp32"], int(model_config["num_attention_heads"]),
              int(model_config["hidden_size"]))
    for graph in ("plain", "fused"):
        for layers, name in (((), "int8"), ((0, 1), "int8, layers 0-1 fp32")):
            out = work / f"{graph}_{len(layers)}.onnx"
            quantize_int8(paths[f"{graph} fp32"], out, layers, n_layers)
            paths[f"{graph} {name}"] = out
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.classifier_variants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a classifier run folder (its best/ checkpoint)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", default="bench/classifier_variants.json")
    args = parser.parse_args(argv)
    import onnxruntime as ort
    from tokenizers import Tokenizer

    from bench.__main__ import corpus_texts
    from callinkit.serve.classifier import length_groups

    run = Path(args.run)
    work = Path(tempfile.mkdtemp(prefix="callinkit-variants-"))
    paths = build(run, work)
    tokenizer = Tokenizer.from_file(str(work / "bundle" / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=int(json.loads((work / "bundle" / "manifest.json").read_text())["max_length"]))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")

    def feed(texts: list[str]) -> dict[str, np.ndarray]:
        enc = tokenizer.encode_batch(texts)
        return {"input_ids": np.array([e.ids for e in enc], np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], np.int64)}

    texts = corpus_texts(256)
    one = feed([ONE])
    calls = [feed(texts[i:i + 32]) for i in range(0, len(texts), 32)]
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    sessions = {name: ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
                for name, p in paths.items()}

    def padded(s, f) -> None:
        width = int(f["attention_mask"].sum(1).max())
        s.run(["logits"], {k: v[:, :width] for k, v in f.items()})

    def grouped(s, f) -> None:
        lengths = f["attention_mask"].sum(1)
        for rows in length_groups(lengths, 32):
            width = int(lengths[rows].max())
            s.run(["logits"], {k: v[rows, :width] for k, v in f.items()})

    times = {name: {"batch1": [], "call32_padded": [], "call32_grouped": []} for name in sessions}
    for s in sessions.values():  # warm-up
        for _ in range(3):
            s.run(["logits"], one)
            padded(s, calls[0])
    for _ in range(args.rounds):
        for name, s in sessions.items():
            for _ in range(40):
                started = time.perf_counter()
                s.run(["logits"], one)
                times[name]["batch1"].append((time.perf_counter() - started) * 1000)
            for how, fn in (("call32_padded", padded), ("call32_grouped", grouped)):
                for f in calls:
                    started = time.perf_counter()
                    fn(s, f)
                    times[name][how].append((time.perf_counter() - started) * 1000)
    reference = np.concatenate([sessions["plain fp32"].run(["logits"], f)[0] for f in calls]).argmax(1)
    results = {"run": str(run), "rounds": args.rounds, "load_average": os.getloadavg()[0], "variants": {}}
    print(f"{'variant':<34} {'batch 1 ms':>10} {'32 padded ms':>13} {'32 grouped ms':>14} {'msg/s':>6} "
          f"{'agree':>6} {'MB':>5}")
    for name, t in times.items():
        labels = np.concatenate([sessions[name].run(["logits"], f)[0] for f in calls]).argmax(1)
        row = {"batch1_ms": round(statistics.median(t["batch1"]), 3),
               "call32_padded_ms": round(statistics.median(t["call32_padded"]), 1),
               "call32_grouped_ms": round(statistics.median(t["call32_grouped"]), 1),
               "label_agreement_with_fp32": round(float((labels == reference).mean()), 4),
               "model_mb": round(paths[name].stat().st_size / 1e6, 1)}
        row["messages_per_s_grouped"] = round(32000 / row["call32_grouped_ms"])
        results["variants"][name] = row
        print(f"{name:<34} {row['batch1_ms']:>10.2f} {row['call32_padded_ms']:>13.1f} {row['call32_grouped_ms']:>14.1f} "
              f"{row['messages_per_s_grouped']:>6} {row['label_agreement_with_fp32']:>6.3f} {row['model_mb']:>5.0f}")
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = list(results["variants"])
        fig, axes = plt.subplots(1, 2, figsize=(10, 0.6 + 0.45 * len(names)), sharey=True)
        axes[0].barh(names, [results["variants"][n]["batch1_ms"] for n in names])
        axes[0].set_xlabel("batch 1, median ms")
        axes[1].barh(names, [results["variants"][n]["messages_per_s_grouped"] for n in names])
        axes[1].set_xlabel("calls of 32 texts, length groups: messages/s")
        axes[0].invert_yaxis()
        fig.tight_layout()
        Path("bench/plots").mkdir(parents=True, exist_ok=True)
        fig.savefig("bench/plots/classifier_variants.png", dpi=120)
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
