"""The detox path on corpus validation call-outs (which carry a concern, or none by their strategy): round 5's
judged candidates of op4 (`../2026-12-06-onpolicy-round5/`), rescored with a bundle's classifier and embedder.

    python model_cards/judging/2026-12-06-detox/corpus_check.py BUNDLE [SIMILARITY ...]
"""
import json
import sys
from pathlib import Path

from callinkit import Rewriter

R5 = Path(__file__).parents[1] / "2026-12-06-onpolicy-round5"
rw = Rewriter.load(sys.argv[1])
floors = [float(a) for a in sys.argv[2:]] or [0.8]
rows = [json.loads(line) for line in open(R5 / "candidates.jsonl")]
items = {json.loads(line)["id"]: json.loads(line) for line in open(R5 / "items.jsonl")}
verdict = {}
for k in (1, 2, 3, 4):
    for line in open(R5 / f"verdicts_{k}.jsonl"):
        v = json.loads(line)
        verdict[items[v["id"]]["source"], items[v["id"]]["candidate"]] = v
for floor in floors:
    shown = []
    for r in rows:
        if r["shown"] or r["refusal"]:
            continue
        ok = [c for c in r["candidates"] if c["problems"] and all(p.startswith("not a call-in by the classifier")
                                                                   for p in c["problems"])]
        if not ok:
            continue
        texts = [c["text"] for c in ok]
        neutral = [p.scores["neutral"] for p in rw.classifier.predict(texts)]
        sims = rw.embedder.encode(texts) @ rw.embedder.encode([r["source"]])[0]
        ok = [(c, n, s) for c, n, s in zip(ok, neutral, sims) if n >= 0.5 and s >= floor]
        if ok:
            c, n, s = max(ok, key=lambda x: x[0]["logprob"])
            v = verdict.get((r["source"], c["text"].strip()))
            shown.append((r["source"], c["text"], round(float(n), 2), round(float(s), 2), v and v["rating"],
                          v and v["reason"]))
    print(f"similarity >= {floor}: {len(shown)} more of {len(rows)} validation call-outs answered; ratings",
          {k: sum(x[4] == k for x in shown) for k in ("good", "acceptable", "bad")})
    for x in shown:
        print("  ", json.dumps(x, ensure_ascii=False))
