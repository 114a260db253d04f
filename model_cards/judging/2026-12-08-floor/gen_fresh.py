"""A confirmation set for the floor, after the choice: what op4q8 shows for every corpus validation call-out that
neither the on-policy preference rounds 1-5 (`../2026-12-06-onpolicy*`) nor `gen_val.py` used (152 of 837).

    python model_cards/judging/2026-12-08-floor/gen_fresh.py BUNDLE OUT.jsonl    # from the repository root

Rows as `gen_val.py` writes them (sample "corpus_validation_fresh"). Resumes: rows already in OUT are skipped.
"""
import json
import sys
import time
from pathlib import Path

from callinkit import Rewriter
from callinkit.corpus import KINDS, pair_rows, read_records, read_splits

sys.path.insert(0, str(Path(__file__).parent))
from rounds import preference_sources  # noqa: E402

HERE = Path(__file__).parent
corpus = {}
for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits()):
    if r["split"] == "validation":
        corpus.setdefault(r["call_out"], r)
used = {json.loads(line)["source"] for line in open(HERE / "gen_val_op4q8.jsonl")}
used |= preference_sources(5)
items = [corpus[t] for t in sorted(corpus) if t not in used]
out = Path(sys.argv[2])
done = {json.loads(line)["source"] for line in open(out)} if out.exists() else set()
rw = Rewriter.load(sys.argv[1])
k = int(rw.generation["num_candidates"])
t0 = time.time()
print(len(items), "fresh validation call-outs", flush=True)
with out.open("a", encoding="utf-8") as fh:
    for n, r in enumerate(items):
        if r["call_out"] in done:
            continue
        _, chosen = rw.generate_and_select(r["call_out"], k, context=r.get("context"))
        fh.write(json.dumps({"sample": "corpus_validation_fresh", "source": r["call_out"], "context": r.get("context"),
                             "reference": r["call_in"], "style": r.get("style"), "strategy": r.get("strategy"),
                             "shown": chosen.text if chosen.ok else None, "reason_codes": list(chosen.reason_codes),
                             "candidates": [{"text": c.text, "problems": list(c.problems),
                                             **{key: round(v, 4) for key, v in c.scores.items()}}
                                            for c in chosen.candidates]}, ensure_ascii=False) + "\n")
        fh.flush()
        if n % 20 == 0:
            print(n, round(time.time() - t0), flush=True)
print("done", len(items), round(time.time() - t0))
