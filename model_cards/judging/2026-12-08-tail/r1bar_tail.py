"""Not worse than the shipped release 1 (with its floor) on the 100 corpus-test call-outs, for rule T (op4q8 with
`min_logprob_tail -2.3`, `eval_op4g.json`), checked once after the choice (`prereg.md`).

    python model_cards/judging/2026-12-08-tail/r1bar_tail.py

As `../2026-12-07-int8-adapter/r1bar.py`: a row where T shows what release 1 shows (both abstain) is a tie; a row
where T shows op4q8's answer, or withholds it while release 1 shows something, takes session 27's verdicts of
op4q8 against release 1; the 2 rows where T shows another candidate than op4q8 were judged by two new blind
judges against release 1 (`key_test_r1.jsonl`, `judge/verdicts_g{1,2}.jsonl`).
"""
import collections
import json
from pathlib import Path

HERE = Path(__file__).parent
INT8 = HERE.parent / "2026-12-07-int8-adapter"
ABSTAINED = "(no suggestion: the tool abstained and showed nothing)"


def verdicts(key_file: Path, vfile: Path) -> dict[str, str]:
    keys = {k["id"]: k for k in map(json.loads, open(key_file))}
    out = {}
    for v in map(json.loads, open(vfile)):
        v2_side = "A" if keys[v["id"]]["A"] == "X" else "B"
        out[v["id"]] = "tie" if v["better"] == "tie" else "v2" if v["better"] == v2_side else "r1"
    return out


rows = [r for r in json.load(open(INT8 / "gen141_op4q8.json")) if r["slice"] == "corpus_test"]
shown = {r["source"]: r["model_reranked"] for r in json.load(open(HERE / "eval_op4g.json"))["samples"]["corpus_test"]}
assert set(shown) == {r["call_out"] for r in rows}
for judge, old, new in ((1, "", "g1"), (2, "b", "g2")):
    q8 = verdicts(INT8 / "key_q8r1.jsonl", INT8 / f"verdicts_q8r1{old}.jsonl")
    fresh = verdicts(HERE / "key_test_r1.jsonl", HERE / "judge" / f"verdicts_{new}.jsonl")
    t = collections.Counter()
    changed = 0
    for r in rows:
        v2 = shown[r["call_out"]]
        if (v2 or ABSTAINED) == r["r1"]:
            t["same"] += 1
        elif v2 is None or v2 == r["v2"]:
            t[q8[r["id"]]] += 1
        else:
            changed += 1
            t[fresh[r["id"]]] += 1
    n = sum(t.values())
    print(f"judge {judge}: both abstain {t['same']}, v2 better {t['v2']}, release 1 better {t['r1']}, tie {t['tie']} "
          f"({changed} rows judged anew): not worse in {100 * (n - t['r1']) / n:.0f}% of {n}")
