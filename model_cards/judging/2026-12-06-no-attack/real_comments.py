"""Blind verdicts of what op4r and release 1 show for the real_comments slice (300 news comments of the toxic_spans
test file), and what `require_attack` would withhold.

    python model_cards/judging/2026-12-06-no-attack/real_comments.py EVAL.json ITEMS_KEY.jsonl VERDICTS_DIR

EVAL.json: `callinkit eval bundles/rewriter_lm_op4r callin_corpus --slices real_comments --compare
callinkit/models/rewriter --out EVAL.json`. ITEMS_KEY: every distinct (source, shown text) of both systems,
judged blind in random order (the judges saw neither system names nor this key). op4r + require_attack is op4r
with the answers withheld whose source the shipped classifier does not label a call-out and that has no insult the
guard knows (generation is seeded per text, so the rest is unchanged; `eval_op4n.json` checks it on 100 rows).
"Via suggest()": only sources the classifier labels a call-out are rewritten.
"""
import collections
import json
import sys
from pathlib import Path

from callinkit import Classifier
from callinkit.guard import source_facts
from callinkit.train.rewriter_eval import kept_attack

rows = json.load(open(sys.argv[1]))["samples"]["real_comments"]
key = {(k["source"], k["candidate"]): k["id"] for k in map(json.loads, open(sys.argv[2]))}
verdict = {}
for f in sorted(Path(sys.argv[3]).glob("verdicts_*.jsonl")):
    for line in open(f):
        v = json.loads(line)
        verdict[v["id"]] = v
labels = [p.label for p in Classifier.load(None).predict([r["source"] for r in rows])]
no_attack = [lab != "call_out" and not source_facts(r["source"]).attack_words for r, lab in zip(rows, labels)]
systems = {"release 1": lambda r, i: r["rewriter_reranked"], "op4r": lambda r, i: r["model_reranked"],
           "op4r + require_attack": lambda r, i: None if no_attack[i] else r["model_reranked"]}
print(f"{len(rows)} comments; the classifier labels {labels.count('call_out')} call-outs; require_attack refuses "
      f"{sum(no_attack)}")
for way in ("direct rewrite()", "via suggest()"):
    print(f"\n{way}:")
    for name, pick in systems.items():
        t = collections.Counter()
        for i, r in enumerate(rows):
            text = pick(r, i)
            if not text or (way == "via suggest()" and labels[i] != "call_out"):
                continue
            t["shown"] += 1
            t["kept span"] += kept_attack(text, r["toxic_spans"])
            v = verdict.get(key.get((r["source"], text)))
            t[v["rating"] if v else "unjudged"] += 1
            if v and v["reason"]:
                t["reason " + v["reason"]] += 1
        reasons = sorted(((k[7:], n) for k, n in t.items() if k.startswith("reason ")), key=lambda x: -x[1])
        print(f"  {name:<22} shown {t['shown']:>3}  good {t['good']:>3}  acceptable {t['acceptable']:>3}  "
              f"bad {t['bad']:>3} ({100 * t['bad'] / max(1, t['shown']):.0f}%)  marked span kept {t['kept span']:>3}"
              + (f"  unjudged {t['unjudged']}" if t["unjudged"] else "") + f"  bad reasons {reasons[:4]}")
