"""The judged items' keys without the tweets' text (the texts stay in ../shared/data/davidson): each item's
sample part and position (sources.py), which guards showed it, and a hash of the candidate; `analyse.py`
rebuilds the texts from the sample and the re-guarded files.

    python model_cards/judging/2026-12-07-davidson/make_keys.py PART FULL_KEYS.jsonl OUT.jsonl
"""
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from sources import sample  # noqa: E402


def sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


if __name__ == "__main__":
    part, full, out = sys.argv[1:4]
    index = {r["source"]: i for i, r in enumerate(sample(part))}
    with open(out, "w") as f:
        for k in map(json.loads, open(full)):
            systems = k.get("systems") or (["base"] + ([] if k["withheld_now"] else ["rules1"]))
            f.write(json.dumps({"id": k["id"], "part": part, "index": index[k["source"]], "systems": systems,
                                "candidate_sha1": sha(k["candidate"])}) + "\n")
