"""Rewriter v2 quantization choices: size, greedy agreement with fp32 and speed, on the same sources.

    python bench/bench_quantization.py --run runs/rewriter_lm [--n 30]

Builds the run's best/ checkpoint with onnxruntime-genai's builder in fp32 and in each candidate setting
(int8; int4 with block size 32 / 128; int4 with the output head kept in int8), rewrites N corpus validation
call-outs greedily with each, and reports the share of rewrites identical to fp32's, their chrF against fp32,
the size of the weights and the median time per rewrite. Writes JSON to --out.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

VARIANTS = {
    "int8": ("int8", []),
    "int4 block 32": ("int4", ["block_size=32", "accuracy_level=4"]),
    "int4 block 128": ("int4", ["block_size=128", "accuracy_level=4"]),
    "int4 block 128, head int8": ("int4", ["block_size=128", "accuracy_level=4", "matmul_mixed_precision=last_matmul:int8"]),
    "int4 block 64, k_quant": ("int4", ["block_size=64", "accuracy_level=4", "algo_config=k_quant"]),
    "int4 block 32, fp32 compute": ("int4", ["block_size=32", "accuracy_level=1"]),
    "int4 block 128, fp32 compute": ("int4", ["block_size=128", "accuracy_level=1"]),
    "int4 block 32, fp32 compute, head int8": ("int4", ["block_size=32", "accuracy_level=1",
                                                         "matmul_mixed_precision=last_matmul:int8"]),
}


def build(best: Path, out: Path, precision: str, extra: list[str], log: Path) -> None:
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(best), "-o", str(out), "-p", precision,
           "-e", "cpu"] + (["--extra_options", *extra] if extra else [])
    with open(log, "a") as fh:
        subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=True)
    cfg = json.loads((out / "genai_config.json").read_text())
    cfg["model"]["pad_token_id"] = 0
    (out / "genai_config.json").write_text(json.dumps(cfg, indent=4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True)
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--work", default="runs/bench_quantization/models")
    parser.add_argument("--out", default="runs/bench_quantization")
    args = parser.parse_args()

    import yaml
    from sacrebleu.metrics import CHRF
    from transformers import AutoTokenizer

    from callinkit.config import config_from_dict
    from callinkit.corpus import KINDS, pair_rows, read_records, read_splits
    from callinkit.lm_prompt import IM_END, render_prompt
    from callinkit.train.rewriter_lm import system_prompt
    from callinkit.train.rewriter_lm_export import genai_greedy_ids

    run = Path(args.run)
    config = config_from_dict(yaml.safe_load((run / "config.yaml").read_text()), str(run / "config.yaml"))
    tok = AutoTokenizer.from_pretrained(run / "best")
    eos = tok.convert_tokens_to_ids(IM_END)
    rows = [r for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits()) if r["split"] == "validation"]
    rows = rows[:: max(1, len(rows) // args.n)][: args.n]
    prompts = [tok(render_prompt(r["call_out"], r.get("context"), system_prompt(config)), add_special_tokens=False)
               ["input_ids"] for r in rows]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    log = work / "build.log"
    results = {}

    def run_variant(name: str, folder: Path) -> list[str]:
        start = time.perf_counter()
        ids = genai_greedy_ids(folder, prompts, config.generation.max_new_tokens, eos)
        per = (time.perf_counter() - start) / len(prompts) * 1000
        size = sum(p.stat().st_size for p in folder.iterdir() if p.name.startswith("model.onnx"))
        results[name] = {"bytes": size, "ms_per_rewrite": per}
        return [tok.decode(t) for t in ids]

    fp32_dir = work / "fp32"
    if not (fp32_dir / "genai_config.json").is_file():
        build(run / "best", fp32_dir, "fp32", [], log)
    ref = run_variant("fp32", fp32_dir)
    for name in args.variants:
        precision, extra = VARIANTS[name]
        folder = work / name.replace(" ", "_").replace(",", "")
        shutil.rmtree(folder, ignore_errors=True)
        build(run / "best", folder, precision, extra, log)
        texts = run_variant(name, folder)
        results[name].update({"identical_to_fp32": sum(a == b for a, b in zip(texts, ref)) / len(ref),
                              "chrf_vs_fp32": CHRF().corpus_score(texts, [ref]).score})
        print(f"{name:<28} {results[name]['bytes'] / 1e6:6.1f} MB  identical {results[name]['identical_to_fp32']:.0%}  "
              f"chrF {results[name]['chrf_vs_fp32']:.1f}  {results[name]['ms_per_rewrite']:.0f} ms/rewrite", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{'fp32':<28} {results['fp32']['bytes'] / 1e6:6.1f} MB  {results['fp32']['ms_per_rewrite']:.0f} ms/rewrite")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"n": len(prompts), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
