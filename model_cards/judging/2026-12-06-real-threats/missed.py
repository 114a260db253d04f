"""What a bundle suggests for the labelled real threats (validation fold) that its threat probe lets through.

    python model_cards/judging/2026-12-06-real-threats/missed.py BUNDLE OUT.json [PARADETOX]
"""
import json
import sys
from pathlib import Path

from callinkit import Rewriter
from callinkit.train.threat_probe import real_text_rows

bundle, out = sys.argv[1], Path(sys.argv[2])
paradetox = sys.argv[3] if len(sys.argv) > 3 else "../shared/data/paradetox"
threats = [r["text"] for r in real_text_rows(paradetox) if r["fold"] == "validation" and r["threat"]]
rw = Rewriter.load(bundle)
rows = []
for text, r in zip(threats, rw.rewrite(threats)):
    rows.append({"source": text, "suggestion": r.text if r.ok else None, "reason": None if r.ok else r.reason})
out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
refused = sum((r["reason"] or "").startswith("not rewritten") for r in rows)
shown = [r for r in rows if r["suggestion"]]
print(f"{len(rows)} real threats: {refused} refused as threats, {len(rows) - refused - len(shown)} abstained otherwise, "
      f"{len(shown)} suggestions shown")
for r in shown:
    print(f"- {r['source']}\n  -> {r['suggestion']}")
