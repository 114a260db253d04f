"""The 141 judged rows (100 corpus-test call-outs, 41 threats) with op4n's suggestion and the shipped release 1's
suggestion with its session-19 floor, for a blind A/B (`../2026-12-06-onpolicy-dpo/make_items.py`).

    python model_cards/judging/2026-12-06-release1-floor/gen141_r1.py OUT.json

op4n = op4r's stored suggestion (`../2026-12-06-detox/gen_op4r.json`) unless `require_attack` withholds it (the
rest is unchanged: generation is seeded per text); release 1 is generated now.
"""
import json
import sys
from pathlib import Path

from callinkit import Classifier, Rewriter
from callinkit.guard import source_facts

rows = json.load(open(Path(__file__).parents[1] / "2026-12-06-detox" / "gen_op4r.json"))
clf = Classifier.load(None)
labels = [p.label for p in clf.predict([r["call_out"] for r in rows])]
r1 = Rewriter.load(None)
out = []
for r, label in zip(rows, labels):
    withheld = label != "call_out" and not source_facts(r["call_out"]).attack_words
    got = r1.rewrite([r["call_out"]])[0]
    out.append({**r, "v2": None if withheld else r["v2"],
                "r1": got.text if got.ok else "(no suggestion: the tool abstained and showed nothing)"})
Path(sys.argv[1]).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
print(sum(o["r1"].startswith("(no suggestion") for o in out), "of", len(out), "release-1 abstentions;",
      sum(o["v2"] is None for o in out), "op4n abstentions")
