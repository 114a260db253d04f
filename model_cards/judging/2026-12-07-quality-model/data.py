"""The judged validation candidates of on-policy rounds 2-5 (op1-op4's candidates for 480 validation call-outs,
rated blind good / acceptable / bad), with each candidate's mean token log-probability and guard problems."""
import collections
import json
from pathlib import Path

JUDGING = Path(__file__).resolve().parents[1]
NOT_BAD = {"good": 1.0, "acceptable": 1.0, "bad": 0.0}


def load() -> list[dict]:
    out = []
    for n in (2, 3, 4, 5):
        d = JUDGING / f"2026-12-06-onpolicy-round{n}"
        sources = [json.loads(line) for line in open(d / "candidates.jsonl")]
        keys = {k["id"]: k for k in map(json.loads, open(d / "keys.jsonl"))}
        votes = collections.defaultdict(list)
        for f in sorted(d.glob("verdicts_*.jsonl")):
            for v in map(json.loads, open(f)):
                votes[v["id"]].append(v["rating"])
        for item in map(json.loads, open(d / "items.jsonl")):
            if not votes.get(item["id"]):
                continue
            src = sources[keys[item["id"]]["source_index"]]
            assert src["source"] == item["source"]
            meta = next((c for c in src["candidates"] if c["text"] == item["candidate"]), None)
            if meta is None:
                continue
            out.append({"round": n, "id": item["id"], "source": item["source"], "context": item.get("context"),
                        "candidate": item["candidate"], "logprob": meta["logprob"], "problems": meta["problems"],
                        "y": sum(NOT_BAD[r] for r in votes[item["id"]]) / len(votes[item["id"]]),
                        "ratings": votes[item["id"]]})
    return out


if __name__ == "__main__":
    rows = load()
    print(len(rows), "items,", len({(r["round"], r["source"]) for r in rows}), "sources,",
          sum(r["y"] >= 0.5 for r in rows), "not bad")
