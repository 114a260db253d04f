"""Not worse than the shipped release 1 (with its floor) on the 100 corpus-test call-outs, for op4e and op4q8.

    python model_cards/judging/2026-12-07-int8-adapter/r1bar.py [WITHHELD_IDS]

Rows where a bundle shows what release 1 shows (both abstain) are ties. Judged: op4q8's rows that differ from
release 1 (`key_q8r1.jsonl`, `verdicts_q8r1*.jsonl`) and op4e's rows whose text differs from op4q8's
(`key_e16r1.jsonl`, `verdicts_e16r1*.jsonl`); op4e's other rows show op4q8's text and take its verdicts. Judge 1 wrote
`verdicts_q8r1` and `verdicts_e16r1`'s first files, judge 2 the `b` files (four helpers in all). WITHHELD_IDS
(comma-separated): rows whose suggestion a later guard rule withholds (release 1 abstains on them: ties).
"""
import collections
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
ABSTAINED = "(no suggestion: the tool abstained and showed nothing)"


def verdicts(key: str, vfile: str) -> dict[str, str]:
    keys = {json.loads(line)["id"]: json.loads(line) for line in open(HERE / key)}
    out = {}
    for line in open(HERE / vfile):
        v = json.loads(line)
        v2_side = "A" if keys[v["id"]]["A"] == "X" else "B"
        out[v["id"]] = "tie" if v["better"] == "tie" else "v2" if v["better"] == v2_side else "r1"
    return out


rows = {name: {r["id"]: r for r in json.load(open(HERE / f"gen141_{name}.json"))} for name in ("op4e", "op4q8")}
withheld = set(sys.argv[1].split(",")) if len(sys.argv) > 1 else set()
for judge, suffix in ((1, ""), (2, "b")):
    judged = {"op4q8": verdicts("key_q8r1.jsonl", f"verdicts_q8r1{suffix}.jsonl"),
              "op4e": verdicts("key_e16r1.jsonl", f"verdicts_e16r1{suffix}.jsonl")}
    for name in ("op4e", "op4q8"):
        t = collections.Counter()
        for i, r in rows[name].items():
            if r["slice"] != "corpus_test":
                continue
            v2 = None if i in withheld else r["v2"]
            if (v2 or ABSTAINED) == r["r1"]:
                t["same"] += 1
            elif name == "op4e" and v2 == rows["op4q8"][i]["v2"]:
                t[judged["op4q8"][i]] += 1
            else:
                t[judged[name][i]] += 1
        n = sum(t.values())
        print(f"judge {judge}, {name}: both abstain {t['same']}, v2 better {t['v2']}, release 1 better {t['r1']}, "
              f"tie {t['tie']}: not worse in {100 * (n - t['r1']) / n:.0f}% of {n}")
