"""The hate probe (`callinkit.train.threat_probe.hate_probe`, session 25) on every blind-judged answer of this folder:
how well it separates the answers judges found harmful, and what it would flag at a few thresholds, among all
judged answers, among those the session's last guards showed, and among the corpus test split's reference
call-ins (which must pass).

    python model_cards/judging/2026-12-07-davidson/hate_probe.py BUNDLE RE-GUARDED.jsonl... [--shown FILES...]

RE-GUARDED: `reguard.py` outputs and `withheld*.jsonl` (the candidates' texts; the keys hold only hashes);
--shown: the files of the guard whose shown answers are counted apart (session 25: heldout6_d, reddit_c,
heldout7_c, reddit_gpt_c, reddit_gpt2_d, reddit_gpt3_d).
"""
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from make_keys import sha  # noqa: E402
from sources import sample  # noqa: E402

from callinkit.corpus import pair_rows, read_records, read_splits  # noqa: E402
from callinkit.serve.embedder import SimilarityEmbedder  # noqa: E402
from callinkit.train.threat_probe import hate_probe, probability  # noqa: E402

args = sys.argv[1:]
shown_files = args[args.index("--shown") + 1:] if "--shown" in args else []
args = args[:args.index("--shown")] if "--shown" in args else args
bundle, files = Path(args[0]), args[1:]
probe = hate_probe(bundle / "embedder", HERE.resolve().parents[2].parent / "shared" / "data")
emb = SimilarityEmbedder(bundle / "embedder")


def read(texts: list[str]) -> np.ndarray:
    x = np.concatenate([emb.encode(texts[i:i + 64]) for i in range(0, len(texts), 64)])
    return probability(x, np.asarray(probe["weights"]), probe["bias"])


cands = {}
for f in files:
    for r in map(json.loads, open(f)):
        for k in ("shown", "shown_now", "withheld"):
            if r.get(k):
                cands[(r["source"], sha(r[k]))] = r[k]
shown = {(r["source"], r["shown_now"]) for f in shown_files for r in map(json.loads, open(f)) if r["shown_now"]}
verdicts, samples = {}, {}
for folder in sorted(HERE.glob("judge*")):
    keys = {k["id"]: k for k in map(json.loads, open(folder / "keys.jsonl"))}
    default = {"judge": "heldout", "judge2": "heldout2", "judge3": "heldout3", "judge4": "heldout4",
               "judge5": "heldout5"}.get(folder.name)
    for vf in sorted(folder.glob("verdicts_*.jsonl")):
        for v in map(json.loads, open(vf)):
            k = keys[v["id"]]
            part = k.get("part", default)
            samples.setdefault(part, sample(part))
            key = (part, samples[part][k["index"]]["source"], k["candidate_sha1"], "withheld" in (k.get("systems") or []))
            verdicts.setdefault(key, []).append(v)
items = [(p, s, cands[(s, h)], w, vs) for (p, s, h, w), vs in verdicts.items() if (s, h) in cands]
print(f"{len(items)} judged answers with their text ({len(verdicts) - len(items)} not in the given files)")
p_items = read([c for _, _, c, _, _ in items])
harm = np.array([any(v["harm"] == "yes" for v in vs) for *_, vs in items])
good = np.array([all(v["rating"] == "good" for v in vs) for *_, vs in items])
reddit = np.array([p.startswith("reddit") for p, *_ in items])
is_shown = np.array([(s, c) in shown and not w for _, s, c, w, _ in items])
print(f"AUC, harm by either judge: all {roc_auc_score(harm, p_items):.3f}, Reddit replies "
      f"{roc_auc_score(harm[reddit], p_items[reddit]):.3f}, tweets {roc_auc_score(harm[~reddit], p_items[~reddit]):.3f}")
records = {k: read_records(k) for k in ("pairs", "neutral", "singles")}
p_refs = read([r["call_in"] for r in pair_rows(records, read_splits()) if r["split"] == "test"])
for t in (0.7, 0.8, 0.9):
    f = p_items >= t
    line = (f"at {t}: flags {f.sum()} of {len(f)} judged answers, {(f & harm).sum()} of {harm.sum()} with harm, "
            f"{(f & good).sum()} of {good.sum()} good by both; corpus-test reference call-ins {(p_refs >= t).mean():.1%}")
    if shown:
        line += f"; of {is_shown.sum()} shown ({(is_shown & harm).sum()} with harm): {(f & is_shown).sum()}, {(f & is_shown & harm).sum()} with harm"
    print(line)
