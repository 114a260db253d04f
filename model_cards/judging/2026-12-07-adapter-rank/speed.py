"""Greedy decoding time of two v2 bundles side by side, interleaved in one process (batch 1, the benches' 25-word
call-out, 2 threads): the bundle with the exact rank-160 adapter against the one cut to rank 48.

    python model_cards/judging/2026-12-07-adapter-rank/speed.py bundles/rewriter_lm_op4n bundles/rewriter_lm_op4s [REPEATS]
"""
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from bench_rewriter import MESSAGE  # noqa: E402

from callinkit.serve import Rewriter  # noqa: E402

bundles = sys.argv[1:3]
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 15
rewriters = [Rewriter.load(b, threads=2) for b in bundles]
texts = [rw.candidates(MESSAGE, 1)[0] for rw in rewriters]  # warm-up, and the text each decodes
times = {b: [] for b in bundles}
for _ in range(repeats):
    for b, rw in zip(bundles, rewriters):
        t0 = time.perf_counter()
        rw.candidates(MESSAGE, 1)
        times[b].append(1000 * (time.perf_counter() - t0))
for b, text in zip(bundles, texts):
    n = len(rewriters[0].tokenizer.encode(text, add_special_tokens=False).ids) + 1
    print(f"{b}: median {statistics.median(times[b]):.0f} ms (min {min(times[b]):.0f}, max {max(times[b]):.0f}), "
          f"{n} tokens, {statistics.median(times[b]) / n:.1f} ms/token: {text!r}")
