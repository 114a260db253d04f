"""A lead, not adopted: does the tail of a candidate's token log-probabilities (its least likely tokens) separate
bad answers better than their mean, the guard's floor?

    python model_cards/judging/2026-12-08-floor/token_tail.py [token_logprobs.json token_logprobs_fresh.json]

Reads every judged answer's tokens again, teacher-forced, with op4q8 (`bundles/rewriter_lm_op4q8`; 2.5 min; the
text re-tokenised, so the mean differs from the decoder's by up to 0.19), or the file this folder keeps; then
prints the AUC of each score for "not bad with both judges" on the 120 corpus validation answers, the AUC of four
of them on the 52 answers of the fresh confirmation set and on session 27's 30 judged corpus-test answers of op4q8,
and what a floor on the 10th percentile or on the mean of the 5 lowest would show.
"""
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from rounds import preference_sources  # noqa: E402

HERE = Path(__file__).parent
INT8 = HERE.parent / "2026-12-07-int8-adapter"


def read_tokens() -> list[dict]:
    if len(sys.argv) > 1:
        return [r for f in sys.argv[1:] for r in json.load(open(f))]
    from callinkit import Rewriter

    rw = Rewriter.load("bundles/rewriter_lm_op4q8")
    rows = [{"id": k["id"], "lp": rw.candidate_logprobs(k["source"], k["candidate"], k["context"])}
            for name in ("key.jsonl", "key_fresh.jsonl") for k in map(json.loads, open(HERE / name))
            if k["sample"].startswith("corpus_validation")]
    for r in json.load(open(INT8 / "eval_op4q8_corpus_test.json"))["samples"]["corpus_test"]:
        if r["model_reranked"]:
            rows.append({"id": "test", "source": r["source"], "candidate": r["model_reranked"],
                         "lp": rw.candidate_logprobs(r["source"], r["model_reranked"], r.get("context"))})
    return rows


def scores(lp: list[float]) -> dict[str, float]:
    a = np.array(lp)
    return {"mean": a.mean(), "min": a.min(), "mean of the 5 lowest": np.sort(a)[:5].mean(),
            "share above -2": (a >= -2).mean(), "10th percentile": np.percentile(a, 10), "median": np.median(a),
            "sum": a.sum()}


def auc(pairs):
    pos = [s for s, ok in pairs if ok]
    neg = [s for s, ok in pairs if not ok]
    return sum((a > b) + 0.5 * (a == b) for a in pos for b in neg) / max(1, len(pos) * len(neg))


rows = read_tokens()
verdicts = [{v["id"]: v for folder in ("judge", "judge_fresh")
             for v in map(json.loads, open(HERE / folder / f"verdicts_{j}.jsonl"))} for j in "12"]
fresh = [r for r in rows if r["id"].startswith("f")]
val = [r for r in rows if r["id"].startswith("v")]
ok = {r["id"]: all(v[r["id"]]["rating"] != "bad" for v in verdicts) for r in val}
print(f"corpus validation, {len(val)} answers, {sum(ok.values())} not bad with both judges: AUC")
for name in scores([0.0]):
    print(f"  {name:<22} {auc([(scores(r['lp'])[name], ok[r['id']]) for r in val]):.3f}")

ok_fresh = {r["id"]: all(v[r["id"]]["rating"] != "bad" for v in verdicts) for r in fresh}
print(f"fresh corpus validation (after the choice), {len(fresh)} answers, {sum(ok_fresh.values())} not bad: AUC")
for name in ("mean", "10th percentile", "share above -2", "mean of the 5 lowest"):
    print(f"  {name:<22} {auc([(scores(r['lp'])[name], ok_fresh[r['id']]) for r in fresh]):.3f}")

gen = {r["call_out"]: r for r in json.load(open(INT8 / "gen141_op4q8.json")) if r["slice"] == "corpus_test"}
keys = {k["id"]: k for k in map(json.loads, open(INT8 / "key_q8r1.jsonl"))}
test_v = [{v["id"]: v for v in map(json.loads, open(INT8 / f"verdicts_q8r1{s}.jsonl"))} for s in ("", "b")]
test = []
for r in rows:
    g = gen.get(r.get("source"))
    if r["id"] == "test" and g and g["v2"] == r["candidate"]:
        side = "A" if keys[g["id"]]["A"] == "X" else "B"
        test.append((r, all(v[g["id"]]["rating_" + side] != "bad" for v in test_v)))
print(f"corpus test (session 27's verdicts), {len(test)} answers, {sum(o for _, o in test)} not bad: AUC")
for name in ("mean", "10th percentile", "share above -2", "mean of the 5 lowest"):
    print(f"  {name:<22} {auc([(scores(r['lp'])[name], o) for r, o in test]):.3f}")

trained = preference_sources(4)
source = {k["id"]: k["source"] for k in map(json.loads, open(HERE / "key.jsonl"))}
for name, subset, n in (("all 300", val, 300), ("the 118 held out", [r for r in val if source[r["id"]] not in trained], 118),
                        ("the 152 fresh", fresh, 152)):
    for score, floors in (("10th percentile", (-2.1, -2.05, -2.0, -1.95, -1.9)),
                          ("mean of the 5 lowest", (-2.4, -2.3, -2.2))):
        for floor in floors:
            kept = [r for r in subset if scores(r["lp"])[score] >= floor]
            bad = sum(v[r["id"]]["rating"] == "bad" for r in kept for v in verdicts) / 2
            print(f"{name}: {score} >= {floor}: {len(kept)} answered ({100 * len(kept) / n:.0f}%), bad {bad:g} "
                  f"({100 * bad / n:.1f}% of rows)")
for floor in (-2.4, -2.3, -2.2):
    kept = [o for r, o in test if scores(r["lp"])["mean of the 5 lowest"] >= floor]
    print(f"corpus test: mean of the 5 lowest >= {floor}: {len(kept)} of the {len(test)} answers kept, "
          f"{len(kept) - sum(kept)} bad with both judges")
