"""Greedy decoding speed of several onnxruntime-genai builds of the same rewriter, side by side.

    python -m bench.int4_variants NAME=FOLDER [NAME=FOLDER ...] [--repeats 5] [--out bench/int4_variants.json]

Each FOLDER is a v2 bundle or any folder with a genai_config.json. The builds are timed in turns (A, B, C, A,
B, C, ...) on the 25-word call-out of `python -m bench`, so load on a shared machine hits them alike: the
prompt alone (one new token) and the prompt plus 33 forced new tokens; ms per token after the prompt is their
difference over 32. Writes JSON and a bar plot (bench/plots/int4_variants.png).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from bench.__main__ import MESSAGE

NEW_TOKENS = 33


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.int4_variants", description=__doc__.split("\n\n")[0])
    parser.add_argument("builds", nargs="+", metavar="NAME=FOLDER")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/int4_variants.json")
    args = parser.parse_args(argv)
    import onnxruntime_genai as og
    from tokenizers import Tokenizer

    from callinkit.lm_prompt import render_prompt
    from callinkit.train.rewriter_lm import SYSTEM_PROMPT

    builds = dict(b.split("=", 1) for b in args.builds)
    first = Path(next(iter(builds.values())))
    ids = Tokenizer.from_file(str(first / "tokenizer.json")).encode(
        render_prompt(MESSAGE, None, SYSTEM_PROMPT), add_special_tokens=False).ids
    models = {name: og.Model(folder) for name, folder in builds.items()}

    def run(model, n: int) -> float:
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(ids) + n, min_length=len(ids) + n, do_sample=False)
        started = time.perf_counter()
        gen = og.Generator(model, params)
        gen.append_tokens(np.array([ids], dtype=np.int32))
        while not gen.is_done():
            gen.generate_next_token()
        return (time.perf_counter() - started) * 1000

    times: dict[str, dict[str, list[float]]] = {name: {"prompt": [], "full": []} for name in models}
    for model in models.values():  # warm-up
        run(model, 2)
    for _ in range(args.repeats):
        for name, model in models.items():
            times[name]["prompt"].append(run(model, 1))
            times[name]["full"].append(run(model, NEW_TOKENS))
    results = {"message": MESSAGE, "prompt_tokens": len(ids), "new_tokens": NEW_TOKENS, "repeats": args.repeats,
               "load_average": os.getloadavg()[0], "builds": {}}
    for name, t in times.items():
        prompt, full = statistics.median(t["prompt"]), statistics.median(t["full"])
        size = sum(p.stat().st_size for p in Path(builds[name]).iterdir() if p.name.startswith("model.onnx"))
        results["builds"][name] = {"folder": builds[name], "prompt_ms": round(prompt, 1), "full_ms": round(full, 1),
                                   "ms_per_token": round((full - prompt) / (NEW_TOKENS - 1), 2),
                                   "model_mib": round(size / 2**20, 1)}
        print(f"{name:<32} prompt {prompt:7.1f} ms | {NEW_TOKENS} tokens {full:7.1f} ms | "
              f"{results['builds'][name]['ms_per_token']:5.1f} ms/token after the prompt | "
              f"{results['builds'][name]['model_mib']:.0f} MiB")
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = list(results["builds"])
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.5 * len(names)))
        ax.barh(names, [results["builds"][n]["ms_per_token"] for n in names])
        ax.set_xlabel("ms per generated token after the prompt (median)")
        ax.invert_yaxis()
        fig.tight_layout()
        Path("bench/plots").mkdir(parents=True, exist_ok=True)
        fig.savefig("bench/plots/int4_variants.png", dpi=120)
    except ImportError:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
