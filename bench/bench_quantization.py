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
    # Asymmetric (uint4 with a zero point per block) is the format of the Q4_1 file the base model came from.
    # (Quantizing the tied embedding's Gather asymmetrically builds a graph onnxruntime cannot load, so these
    # quantize the MatMuls only.)
    "int4 block 32, asymmetric": ("int4", ["block_size=32", "accuracy_level=4", "is_symmetric=false",
                                           "op_types_to_quantize=MatMul"]),
    "int4 block 16, asymmetric": ("int4", ["block_size=16", "accuracy_level=4", "is_symmetric=false",
                                           "op_types_to_quantize=MatMul"]),
    "int4 block 32, asymmetric, fp32 compute": ("int4", ["block_size=32", "accuracy_level=1", "is_symmetric=false",
                                                         "op_types_to_quantize=MatMul"]),
    "int8, fp32 compute": ("int8", ["accuracy_level=1"]),
    "int4 rtn, sensitive layers int8": ("int4", ["block_size=32", "accuracy_level=4", "algo_config=rtn",
                                                 "matmul_mixed_precision=last_matmul:int8,mixed_layers:int8"]),
    "int4 rtn asymmetric, sensitive layers int8": ("int4", ["block_size=32", "accuracy_level=4", "algo_config=rtn",
                                                            "is_symmetric=false",
                                                            "matmul_mixed_precision=last_matmul:int8,mixed_layers:int8"]),
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
    parser.add_argument("--split", default="validation", choices=["validation", "test"],
                        help="corpus split the call-outs come from")
    parser.add_argument("--j", action="store_true",
                        help="also score each variant's greedy rewrites (J, STA, SIM, chrF against the references, "
                             "with the shipped classifier and the eval embedder), fp32 included")
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
    rows = [r for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits()) if r["split"] == args.split]
    rows = rows[:: max(1, len(rows) // args.n)][: args.n]
    prompts = [tok(render_prompt(r["call_out"], r.get("context"), system_prompt(config)), add_special_tokens=False)
               ["input_ids"] for r in rows]
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    log = work / "build.log"
    results = {}

    scorer = None
    if args.j:
        from callinkit.serve import Classifier
        from callinkit.train.rewriter_eval import eval_embedder, score_outputs

        classifier, embedder = Classifier.load(), eval_embedder(None)
        scorer = lambda texts: score_outputs(texts, rows, classifier, embedder)  # noqa: E731

    def run_variant(name: str, folder: Path) -> list[str]:
        start = time.perf_counter()
        ids = genai_greedy_ids(folder, prompts, config.generation.max_new_tokens, eos)
        per = (time.perf_counter() - start) / len(prompts) * 1000
        size = sum(p.stat().st_size for p in folder.iterdir() if p.name.startswith("model.onnx"))
        texts = [tok.decode(t, skip_special_tokens=True).strip() for t in ids]
        results[name] = {"bytes": size, "ms_per_rewrite": per}
        if scorer is not None:
            m = scorer(texts)
            results[name]["greedy"] = {k: m[k] for k in ("sta", "sim", "chrf", "j") if k in m}
            print(f"{name:<28} greedy J {m['j']:.3f}  STA {m['sta']:.3f}  SIM {m['sim']:.3f}  chrF {m['chrf']:.1f}",
                  flush=True)
        results[name]["samples"] = [{"source": r["call_out"], "rewrite": t} for r, t in zip(rows[:8], texts)]
        return texts

    fp32_dir = work / "fp32"
    if not (fp32_dir / "genai_config.json").is_file():
        build(run / "best", fp32_dir, "fp32", [], log)
    ref = run_variant("fp32", fp32_dir)
    for name in args.variants:
        precision, extra = VARIANTS[name]
        folder = work / name.replace(" ", "_").replace(",", "")
        shutil.rmtree(folder, ignore_errors=True)
        try:
            build(run / "best", folder, precision, extra, log)
        except Exception as exc:  # a variant the builder cannot make is a result too
            print(f"{name:<28} failed to build: {exc} (see {log})", flush=True)
            results[name] = {"error": str(exc)}
            continue
        try:
            texts = run_variant(name, folder)
        except Exception as exc:
            print(f"{name:<28} failed to load or run: {str(exc)[:300]}", flush=True)
            results[name] = {"error": str(exc)}
            continue
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
