"""Blind A/B between two `callinkit eval` outputs of v2 bundles: items for the rows where their suggestions differ,
and the judges' verdicts counted per slice.

    python model_cards/judging/eval_ab.py make EVAL_X.json EVAL_Y.json X Y SIDE SEED JUDGE_DIR KEY_DIR
    python model_cards/judging/eval_ab.py score KEY.jsonl VERDICTS.jsonl [VERDICTS.jsonl ...]

`make` compares `model_reranked` on the corpus test, held-out ParaDetox and real-comment slices, shuffles the
changed rows and their A/B sides with SEED, writes items_SIDE.jsonl (ids: SIDE's first letter + a number) into
JUDGE_DIR for judges who follow /work/r14/judge/PROMPT.md and key_SIDE.jsonl (which side is X, which Y) into
KEY_DIR. `score` prints, per slice and judge, X better / Y better / tie and each side's judged ratings.
"""
import collections
import json
import random
import sys
from pathlib import Path

ABSTAINED = "(no suggestion: the tool abstained and showed nothing)"
SLICES = ("corpus_test", "paradetox_heldout", "real_comments")


def make(eval_x: str, eval_y: str, x: str, y: str, side: str, seed: int, judge_dir: str, key_dir: str) -> None:
    ex, ey = json.load(open(eval_x)), json.load(open(eval_y))
    rng = random.Random(seed)
    rows = []
    for name in SLICES:
        shown_y = {s["source"]: s["model_reranked"] for s in ey["samples"][name]}
        for s in ex["samples"][name]:
            if s["model_reranked"] != shown_y[s["source"]]:
                rows.append((name, s, shown_y[s["source"]] or ABSTAINED, s["model_reranked"] or ABSTAINED))
    rng.shuffle(rows)
    items, keys = [], []
    for n, (name, s, text_y, text_x) in enumerate(rows):
        flip = rng.random() < 0.5
        i = f"{side[0]}{n:03d}"
        items.append({"id": i, "context": s.get("context"), "call_out": s["source"], "A": text_x if flip else text_y,
                      "B": text_y if flip else text_x})
        keys.append({"id": i, "slice": name, "A": x if flip else y, "B": y if flip else x})
    (Path(judge_dir) / f"items_{side}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in items))
    (Path(key_dir) / f"key_{side}.jsonl").write_text("".join(json.dumps(k) + "\n" for k in keys))
    print(len(items), "items")


def score(key_file: str, verdict_files: list[str]) -> None:
    keys = {k["id"]: k for k in map(json.loads, open(key_file))}
    systems = sorted({k[side] for k in keys.values() for side in ("A", "B")})
    for f in verdict_files:
        verdicts = {v["id"]: v for v in map(json.loads, open(f))}
        assert set(verdicts) == set(keys), f"{f}: {len(verdicts)} verdicts for {len(keys)} items"
        t = collections.Counter()
        for i, k in keys.items():
            v, s = verdicts[i], k["slice"]
            t[s, "n"] += 1
            t[s, "tie" if v["better"] == "tie" else k[v["better"]]] += 1
            for side in ("A", "B"):
                t[s, k[side], v["rating_" + side]] += 1
        print(Path(f).name)
        for s in SLICES:
            ratings = {m: {r: t[s, m, r] for r in ("good", "acceptable", "bad", "abstain")} for m in systems}
            print(f"  {s}: {t[s, 'n']} changed rows, " + ", ".join(f"{m} better {t[s, m]}" for m in systems)
                  + f", tie {t[s, 'tie']}; ratings " + ", ".join(f"{m} {ratings[m]}" for m in systems))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "make" and len(sys.argv) == 10:
        make(*sys.argv[2:7], int(sys.argv[7]), *sys.argv[8:10])
    elif len(sys.argv) > 3 and sys.argv[1] == "score":
        score(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
