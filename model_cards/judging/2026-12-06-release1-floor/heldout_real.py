"""The floor chosen on validation (`analyse.py`: -0.5), checked on held-out real text: release 1's candidates for
the eval's real_comments slice (300 toxic_spans test comments), with the blind verdicts of its answers there
(`../2026-12-06-no-attack/real_judge/`). What would it show at each floor, and how were those judged?

    python model_cards/judging/2026-12-06-release1-floor/heldout_real.py
"""
import collections
import json
from pathlib import Path

from callinkit import Classifier, Rewriter
from callinkit.train.rewriter_eval import real_comment_rows

NA = Path(__file__).parents[1] / "2026-12-06-no-attack"
key = {(k["source"], k["candidate"]): k["id"] for k in map(json.loads, open(NA / "real_judge" / "key.jsonl"))}
verdict = {}
for f in sorted((NA / "real_judge").glob("verdicts_*.jsonl")):
    for line in open(f):
        v = json.loads(line)
        verdict[v["id"]] = v
rows = real_comment_rows("../shared/data/toxic_spans")
rw = Rewriter.load(None)
rw.manifest = {**rw.manifest, "guard": {}}  # candidates as release 1 shipped before the floor
results = [r for start in range(0, len(rows), 16) for r in rw.rewrite([x["call_out"] for x in rows[start:start + 16]])]
call_out = [p.label == "call_out" for p in Classifier.load(None).predict([x["call_out"] for x in rows])]
for floor in (None, -0.6, -0.5):
    for way in ("direct", "via suggest()"):
        t = collections.Counter()
        for x, res, co in zip(rows, results, call_out):
            if way != "direct" and not co:
                continue
            passing = [c for c in res.candidates if c.ok and (floor is None or c.scores["model_score"] >= floor)]
            if not passing:
                continue
            v = verdict.get(key.get((x["call_out"], passing[0].text)))
            t[v["rating"] if v else "unjudged"] += 1
        print(f"floor {floor}, {way}: shown {sum(t.values())}: {t['good']} good / {t['acceptable']} acceptable / "
              f"{t['bad']} bad" + (f" / {t['unjudged']} unjudged" if t["unjudged"] else ""))
