"""What a bundle does with the 21 real threats labelled in session 18 (Civil Comments, CrowdCounter): refused
before generating, abstained, or shown (and what).

    python model_cards/judging/2026-12-06-backstop-gate/real_threats.py BUNDLE OUT.json
"""
import json
import sys
from pathlib import Path

from callinkit import Rewriter

sys.path.insert(0, str(Path(__file__).parents[1] / "2026-12-06-real-concern"))
from texts import labelled_rows  # noqa: E402

rw = Rewriter.load(sys.argv[1])
out = []
for r in labelled_rows():
    if not r["threat"]:
        continue
    refusal = rw.refusal(r["text"])
    result = None if refusal else rw.rewrite_one(r["text"])
    out.append({"fold": r["fold"], "sample": r["sample"], "text": r["text"], "probe": rw.threat_probability(r["text"]),
                "refusal": refusal, "shown": result.text if result and result.ok else None,
                "reason": result.reason if result else None})
Path(sys.argv[2]).write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
print("refused before generating", sum(bool(r["refusal"]) for r in out), "; abstained",
      sum(not r["refusal"] and not r["shown"] for r in out), "; shown", sum(bool(r["shown"]) for r in out))
for r in out:
    if r["shown"]:
        print("  ", r["text"][:100], "->", r["shown"])
