"""Rewriter v2 latency at batch 1 for a 25-word call-out: `transformers.generate` against onnxruntime-genai.

    python bench/bench_rewriter_lm.py --run runs/rewriter_lm --bundle bundles/rewriter_lm [--repeats 15]

Systems, measured side by side in one run on the same checkpoint and prompt:
  - `transformers.generate` greedy, fp32 PyTorch (`run/best`);
  - the bundle's decoder through onnxruntime-genai, greedy (`LMRewriter.candidates(k=1)`);
  - `LMRewriter.rewrite` with k = 1, 4 and 8 candidates (greedy + sampled, guarded, reranked by the classifier);
  - `LMRewriter.rewrite` k=4 on a message whose only attack is profanity, with and without the guard's deletion
    candidate (the message without its profanity, scored by one teacher-forced pass: `LMRewriter.logprob`).
Reports median / p90 / min / max per call after a warm-up, the generated length and ms per generated token,
and writes JSON and a latency plot to --out.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from bench_rewriter import MESSAGE, timed  # the same 25-word call-out and timer as release 1's bench

# A 23-word message whose only attack is profanity: the deletion candidate's case
PROFANE = ("i get a similar speed to that because i live up a fucking mountain and the router is downstairs in the "
           "other room .")


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"median_ms": statistics.median(ms), "p90_ms": ordered[int(0.9 * (len(ms) - 1))],
            "min_ms": ordered[0], "max_ms": ordered[-1], "repeats": len(ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="rewriter_lm run folder (its best/ checkpoint)")
    parser.add_argument("--bundle", required=True, help="rewriter bundle exported from that run")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="runs/bench_rewriter_lm")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from callinkit.lm_prompt import IM_END, render_prompt
    from callinkit.serve import Rewriter

    torch.set_num_threads(args.threads)
    rewriter = Rewriter.load(args.bundle, threads=args.threads)
    best = Path(args.run) / "best"
    tokenizer = AutoTokenizer.from_pretrained(best)
    model = AutoModelForCausalLM.from_pretrained(best).eval()
    eos = tokenizer.convert_tokens_to_ids(IM_END)
    prompt = tokenizer(render_prompt(MESSAGE, None, rewriter.system), return_tensors="pt", add_special_tokens=False)
    max_new = int(rewriter.generation["max_new_tokens"])

    def hf_greedy() -> str:
        with torch.no_grad():
            out = model.generate(**prompt, max_new_tokens=max_new, do_sample=False, eos_token_id=eos, pad_token_id=0)
        return tokenizer.decode(out[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True)

    def with_deletion(on: bool) -> list:
        rewriter.deletion_candidate = on
        return rewriter.rewrite([PROFANE], num_candidates=4)

    outputs = {"transformers.generate greedy (fp32)": hf_greedy(),
               f"onnxruntime-genai greedy ({rewriter.manifest.get('precision')})": rewriter.candidates(MESSAGE, 1)[0]}
    systems = {
        "transformers.generate greedy (fp32)": hf_greedy,
        f"onnxruntime-genai greedy ({rewriter.manifest.get('precision')})": lambda: rewriter.candidates(MESSAGE, 1),
        "LMRewriter.rewrite k=1 (guard + classifier)": lambda: rewriter.rewrite([MESSAGE], num_candidates=1),
        "LMRewriter.rewrite k=4": lambda: rewriter.rewrite([MESSAGE], num_candidates=4),
        "LMRewriter.rewrite k=8": lambda: rewriter.rewrite([MESSAGE], num_candidates=8),
        "rewrite k=4, profanity, no deletion candidate": lambda: with_deletion(False),
        "rewrite k=4, profanity, with deletion candidate": lambda: with_deletion(True),
    }
    results = {}
    for name, fn in systems.items():
        results[name] = summary(timed(fn, args.repeats))
        text = outputs.get(name)
        if text is not None:
            n_tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"]) + 1  # + <|im_end|>
            results[name].update({"new_tokens": n_tokens, "ms_per_token": results[name]["median_ms"] / n_tokens,
                                  "text": text})
        print(f"{name:<48} median {results[name]['median_ms']:8.1f} ms  p90 {results[name]['p90_ms']:8.1f} ms"
              + (f"  ({results[name]['new_tokens']} tokens, {results[name]['ms_per_token']:.1f} ms/token)"
                 if "new_tokens" in results[name] else ""))
    names = list(systems)
    speedup = results[names[0]]["median_ms"] / results[names[1]]["median_ms"]
    print(f"onnxruntime-genai greedy is {speedup:.2f}x faster than transformers.generate greedy (median)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"message": MESSAGE, "words": len(MESSAGE.split()),
                                                  "threads": args.threads, "results": results,
                                                  "speedup_greedy": speedup}, indent=2) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.barh(names, [results[n]["median_ms"] for n in names],
            xerr=[[results[n]["median_ms"] - results[n]["min_ms"] for n in names],
                  [results[n]["p90_ms"] - results[n]["median_ms"] for n in names]], color="#4c78a8")
    ax.set_xlabel(f"ms per call, batch 1, {len(MESSAGE.split())}-word call-out; last two rows: "
                  f"{len(PROFANE.split())}-word profanity (median; bars min..p90)")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=120)
    print(f"wrote {out / 'results.json'} and {out / 'latency.png'}")


if __name__ == "__main__":
    main()
