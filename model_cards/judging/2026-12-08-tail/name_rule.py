"""What the guard's rule for a name opening a sentence ("Kaylee, ..." for a message to KAYLEIGH) changes on recorded
candidates: how many of op4q8's candidates for the three corpus-style judged sets it flags, which judged answers it
withholds, and whether it flags any answer of an eval output.

    python model_cards/judging/2026-12-08-tail/name_rule.py [EVAL_JSON]    # default: eval_op4g.json here (redacted:
                                                                           # its proxy rows are placeholders)
"""
import json
import re
import sys
from pathlib import Path

from callinkit.guard import check_candidate, source_facts

HERE = Path(__file__).parent
FLOOR = HERE.parent / "2026-12-08-floor"
VOCATIVE = re.compile(r"(?:^|[.!?]\s+)([A-Z][a-z]+),")


def flagged(source: str, context: str | None, text: str) -> str | None:
    """The sentence-opening name the rule flags in `text`, if any ("invents" naming a word in address position)."""
    invented = [str(p) for p in check_candidate(source_facts(source, context), text) if p.code == "invents"]
    return next((m.group(1) for m in VOCATIVE.finditer(text) if invented and m.group(1) in invented[0]), None)


n, hits = 0, []
for f in (FLOOR / "gen_val_op4q8.jsonl", FLOOR / "gen_fresh_op4q8.jsonl", HERE / "gen_tail_op4q8.jsonl"):
    for r in map(json.loads, open(f)):
        if r["source"].startswith("⟦") or "candidates" not in r:
            continue
        texts = [c["text"] for c in r["candidates"]] if isinstance(r["candidates"], list) else list(r["candidates"])
        for t in texts:
            n += 1
            name = flagged(r["source"], r.get("context"), t)
            if name:
                hits.append(name)
print(f"{n} candidates of the three sets; the rule flags {len(hits)}: {', '.join(hits)}")
judged = 0
for key, folder in ((FLOOR / "key.jsonl", FLOOR / "judge"), (FLOOR / "key_fresh.jsonl", FLOOR / "judge_fresh"),
                    (HERE / "key.jsonl", HERE / "judge")):
    verdicts = [{v["id"]: v for v in map(json.loads, open(folder / f"verdicts_{i}.jsonl"))} for i in (1, 2)]
    for k in map(json.loads, open(key)):
        if k["source"].startswith("⟦"):
            continue
        judged += 1
        name = flagged(k["source"], k.get("context"), k["candidate"])
        if name:
            print(f"withholds judged answer {k['id']} ({name}): " + " / ".join(v[k["id"]]["rating"] for v in verdicts))
print(f"{judged} judged answers of those sets read")
samples = json.load(open(sys.argv[1] if len(sys.argv) > 1 else HERE / "eval_op4g.json"))["samples"]
shown = [(r, r["model_reranked"]) for rows in samples.values() for r in rows
         if r.get("model_reranked") and not r["source"].startswith("⟦")]
print(f"eval answers read: {len(shown)}; flagged: "
      f"{sum(bool(flagged(r['source'], r.get('context'), t)) for r, t in shown)}")
