"""How items_*.jsonl and key_*.jsonl were made (kept for the record; it reads files of the machine it ran on).

The copy-boost bundle's suggestion (runs/eval/s8_eval.json) against release 1's and against the reference, on
the same 141 rows (100 corpus-test call-outs, 41 threats) and with the same other sides as session 7's pairs."""

import json
import random
from pathlib import Path

PAIRS = Path("model_cards/judging/2026-12-04-logprob/pairs")
ABSTAINED = "(no suggestion: the tool abstained and showed nothing)"
OUT = Path("/work/r8/pairs")


def main() -> None:
    samples = json.loads(Path("runs/eval/s8_eval.json").read_text())["samples"]
    v2 = {(r["source"], r["context"]): r["model_reranked"] for s in ("corpus_test", "threats") for r in samples[s]}
    OUT.mkdir(exist_ok=True)
    for side in ("r1", "ref"):
        items = [json.loads(line) for line in (PAIRS / f"items_{side}.jsonl").open()]
        keys = {json.loads(line)["id"]: json.loads(line) for line in (PAIRS / f"key_{side}.jsonl").open()}
        rng = random.Random(80 + len(side))
        new_items, new_keys = [], []
        for item in items:
            key = keys[item["id"]]
            old = item["A" if key["A"] == "v2" else "B"]
            other = item["B" if key["A"] == "v2" else "A"]
            mine = v2[(item["call_out"], item["context"])] or ABSTAINED
            flip = rng.random() < 0.5
            a, b = (mine, other) if flip else (other, mine)
            new_items.append({"id": item["id"], "context": item["context"], "call_out": item["call_out"], "A": a, "B": b})
            new_keys.append({"id": item["id"], "slice": key["slice"], "A": "v2" if flip else "other",
                             "B": "other" if flip else "v2", "v2_changed": mine != old})
        rng.shuffle(new_items)
        (OUT / f"items_{side}.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in new_items))
        (OUT / f"key_{side}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in new_keys))


if __name__ == "__main__":
    main()
