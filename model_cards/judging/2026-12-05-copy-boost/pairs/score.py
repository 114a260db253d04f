"""Preference counts from the verdicts in this folder, and the same verdicts re-scored for the threat probe.

Re-scoring: where the probe makes the bundle abstain on a call-out it had answered
(`refused_by_threat_probe.jsonl`), v2's side becomes an abstention, judged with the judge's own rating of the
other side: against a bad suggestion it wins, against a good or acceptable one it loses, against an
abstention it ties (the judges' prompt: an abstention beats a bad suggestion and loses to a good one)."""

import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).parent
refused = {(r["call_out"], r["context"]) for r in map(json.loads, (HERE / "refused_by_threat_probe.jsonl").open())}
for side, name in (("r1", "release 1"), ("ref", "the reference")):
    items = {r["id"]: r for r in map(json.loads, (HERE / f"items_{side}.jsonl").open())}
    keys = {r["id"]: r for r in map(json.loads, (HERE / f"key_{side}.jsonl").open())}
    counts: dict[str, Counter] = {"as judged": Counter(), "with the threat probe": Counter()}
    for v in map(json.loads, (HERE / f"verdicts_{side}.jsonl").open()):
        key, item = keys[v["id"]], items[v["id"]]
        mine = "A" if key["A"] == "v2" else "B"
        theirs = "B" if mine == "A" else "A"
        won = "tie" if v["better"] == "tie" else ("v2" if v["better"] == mine else "other")
        counts["as judged"][(key["slice"], won)] += 1
        if (item["call_out"], item["context"]) in refused and v[f"rating_{mine}"] != "abstain":
            other = v[f"rating_{theirs}"]
            won = "tie" if other == "abstain" else ("v2" if other == "bad" else "other")
        counts["with the threat probe"][(key["slice"], won)] += 1
    for how, c in counts.items():
        for slice_ in ("corpus_test", "threats"):
            n = sum(x for (s, _), x in c.items() if s == slice_)
            print(f"v2 against {name}, {slice_}, {how}: v2 better {c[(slice_, 'v2')]}, other better "
                  f"{c[(slice_, 'other')]}, tie {c[(slice_, 'tie')]}; not worse {(n - c[(slice_, 'other')]) / n:.0%}")
