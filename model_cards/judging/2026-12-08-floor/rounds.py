"""The call-outs whose candidates the on-policy preference rounds trained on (`../2026-12-06-onpolicy*`): rounds 1-4
are stacked into op4's model; round 5 was judged but not stacked."""
import glob
import json
from pathlib import Path

JUDGING = Path(__file__).parents[1]
ROUNDS = ("2026-12-06-onpolicy", "2026-12-06-onpolicy-round2", "2026-12-06-onpolicy-round3",
          "2026-12-06-onpolicy-round4", "2026-12-06-onpolicy-round5")


def preference_sources(rounds: int = 4) -> set[str]:
    """Every source text in the judged files of the first `rounds` rounds."""
    found = set()
    for folder in ROUNDS[:rounds]:
        for f in glob.glob(str(JUDGING / folder / "*.jsonl")):
            for line in open(f):
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                found.update(row[k] for k in ("source", "call_out") if isinstance(row.get(k), str))
    return found
