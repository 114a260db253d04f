"""What op4q8 shows for each fresh call-out under the two rules of `prereg.md`, from the same candidates, decoded once.

    python model_cards/judging/2026-12-08-tail/gen_tail.py bundles/rewriter_lm_op4q8 OUT.jsonl    # from the repository root

M: `min_logprob -0.6` (the recipe now); T: `min_logprob -0.8` and `min_logprob_tail -2.3`. Each row: the source,
the source-level refusal if any, every candidate with its scores and problems under each rule, and what each rule
shows. Resumes: rows already in OUT are skipped.
"""
import json
import sys
import time
from pathlib import Path

from callinkit import Rewriter

HERE = Path(__file__).parent
RULES = {"M": (-0.6, None), "T": (-0.8, -2.3)}
items = [json.loads(line) for line in open(HERE / "fresh_callouts.jsonl")]
out = Path(sys.argv[2])
done = {json.loads(line)["id"] for line in open(out)} if out.exists() else set()
rw = Rewriter.load(sys.argv[1])
k = int(rw.generation["num_candidates"])
t0 = time.time()
with out.open("a", encoding="utf-8") as fh:
    for n, item in enumerate(items):
        if item["id"] in done:
            continue
        row = {"id": item["id"], "source": item["call_out"], "style": item["style"], "writer": item["writer"]}
        refusal = rw.refusal(item["call_out"])
        if refusal:
            row.update(refused=refusal.code, shown={r: None for r in RULES})
        else:
            cands = rw.candidate_scores(item["call_out"], k)
            row.update(candidates={t: {key: round(v, 4) for key, v in s.items()} for t, s in cands.items()}, shown={},
                       reasons={}, problems={})
            for rule, (floor, tail) in RULES.items():
                rw.min_logprob, rw.min_logprob_tail = floor, tail
                chosen = rw.choose(item["call_out"], cands)
                row["shown"][rule] = chosen.text if chosen.ok else None
                row["reasons"][rule] = list(chosen.reason_codes)
                row["problems"][rule] = {c.text: list(c.problem_codes) for c in chosen.candidates}
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        if n % 20 == 0:
            print(n, round(time.time() - t0), flush=True)
print("done", len(items), round(time.time() - t0))
