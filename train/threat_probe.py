"""A threat probe for the rewriter's guard: logistic regression on the bundle's sentence embeddings.

A v2 bundle abstains on threats (`guard.abstain_on_threat`): judges found its rewrites of them unfaithful and
often keeping a trace of the threat. The guard's threat patterns (`callinkit.guard.THREAT_RE`) match only 39% of
the corpus's validation threats, since threats are mostly implied ("Ref, we know your car. Remember that."),
in slang or in other languages. (Veiled threats in stock idioms, "accidents happen", read low to the probe and
are patterns instead.) The probe reads the MiniLM embedding the bundle already computes for concern
similarity, and is fitted on the corpus's training split (style `threat` against every other text, near misses
such as "this printer is going out the window" included). The bundle abstains when the patterns match or the
probe's probability reaches its threshold.

Both probes can also learn from labelled real text (`real_text_rows`): fitted on the hand-written corpus alone,
the threat probe flagged 13.9% of a labelled validation fold of real ParaDetox comments that are not threats
(mostly profanity and banter) and the no-concern probe only 25% of those with no concern beyond the attack, so
on real text the guard refused good detoxifications (model_cards/judging/2026-12-06-guard-real-text/). The labels (threat,
concern) are keyed by a hash of each ParaDetox source; the texts are read from the user's ParaDetox folder, never
copied into the repository. A second round (session 16) labelled 704 ParaDetox sentences with a violent word,
from its pairs and from the sentences its annotators could not detoxify (`sample: violent_words`): the shipped
probe refuses 49% of the real threats of their validation fold; learning from them too, 77%, at the cost of
more real non-threats refused, so the export uses them only when `export.threat_real_text_samples` says so
(model_cards/judging/2026-12-06-real-threats/). The guard also refuses a candidate the probe reads as a threat.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PROBE_FILE = "threat_probe.json"
NO_CONCERN_PROBE_FILE = "no_concern_probe.json"
REAL_TEXT_LABELS = Path(__file__).parent / "guard_labels" / "paradetox.jsonl"


def text_key(text: str) -> str:
    """The key of a labelled real text: sha1 of its lower-cased, whitespace-normalised form (12 hex digits)."""
    return hashlib.sha1(" ".join(text.lower().split()).encode("utf-8")).hexdigest()[:12]


def real_text_rows(paradetox: str | Path, labels: str | Path = REAL_TEXT_LABELS) -> list[dict[str, Any]]:
    """The labelled ParaDetox sources: {text, threat, no_concern, fold} per label line, the text found by its
    key among the sources of the ParaDetox folder `paradetox`; `fold` "validation" for a fixed quarter (by key),
    "train" for the rest. Raises DataError when the folder lacks most of the labelled texts (another file)."""
    from callinkit.config import SourceConfig
    from callinkit.errors import DataError
    from callinkit.train.data import source_rows

    records = [json.loads(line) for line in Path(labels).read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = {text_key(t): t for t in _cannot_rewrite_texts(Path(paradetox))}
    texts.update({text_key(r["call_out"]): r["call_out"]
                  for r in source_rows(SourceConfig(name="paradetox", path=str(paradetox)), "pairs")})
    rows = [{"text": texts[r["key"]], "threat": r["threat"] == "yes", "no_concern": r["concern"] == "none",
             "fold": "validation" if int(r["key"], 16) % 4 == 0 else "train", "labeller": r.get("labeller"), "sample": r.get("sample", "random")}
            for r in records if r["key"] in texts]
    if len(rows) < 0.9 * len(records):
        raise DataError(f"{paradetox}: only {len(rows)} of the {len(records)} texts labelled in {labels} were "
                        "found; point to the ParaDetox folder of ../shared/data (s-nlp/paradetox @ d97b17d)")
    return rows


def _cannot_rewrite_texts(paradetox: Path) -> list[str]:
    """The sentences of ParaDetox's `paradetox_cannot_rewrite.tsv` (those its annotators could not detoxify,
    where real threats are far more common than among its pairs), when the folder has that file. Only the texts
    are used, with callinkit's own labels: the file's verdicts are not (`callinkit.corpus.proxies.UNUSED_FILES`)."""
    import csv

    file = paradetox / "paradetox_cannot_rewrite.tsv"
    if not file.is_file():
        return []
    with file.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[1:]
    return [t for t in (r[1].strip().strip('"').strip() for r in rows if len(r) > 1) if t]


def fit_probe(x: np.ndarray, y: np.ndarray, c: float = 0.3,
              sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(weights, bias) of an L2 logistic regression with balanced class weights."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x, y, sample_weight=sample_weight)
    return model.coef_[0].astype(np.float32), float(model.intercept_[0])


def probability(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    """A probe's probability for each row of embeddings `x`."""
    return 1 / (1 + np.exp(-(x @ weights + bias)))


def _fitted_on(corpus: str, real: list[dict[str, Any]] | None, weight: float) -> str:
    """The probe's `fitted_on` note: the corpus rows, plus the labelled real texts when there are any."""
    n = sum(r["fold"] == "train" for r in real or [])
    return corpus + (f" + {n} labelled real texts (weight {weight:g})" if n else "")


def _with_real(x: np.ndarray, y: np.ndarray, embedder: Any, real: list[dict[str, Any]] | None, key: str,
               weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The corpus's training rows plus the real texts' train fold (each weighing `weight`)."""
    if not real:
        return x, y, None
    part = [r for r in real if r["fold"] == "train"]
    xr = embedder.encode([r["text"] for r in part])
    yr = np.array([r[key] for r in part])
    return (np.concatenate([x, xr]), np.concatenate([y, yr]),
            np.concatenate([np.ones(len(y)), np.full(len(yr), weight)]))


def _real_validation(embedder: Any, real: list[dict[str, Any]] | None, key: str,
                     score: Callable[[np.ndarray, list[str]], np.ndarray], threshold: float,
                     patterns: bool = False) -> dict[str, Any]:
    """How the probe (`score(embeddings, texts)`) flags the real texts' validation fold, by their label `key`."""
    part = [r for r in (real or []) if r["fold"] == "validation"]
    if not part:
        return {}
    from callinkit.guard import THREAT_RE

    texts = [r["text"] for r in part]
    flagged = score(embedder.encode(texts), texts) >= threshold
    if patterns:
        flagged |= np.array([bool(THREAT_RE.search(t)) for t in texts])
    y = np.array([r[key] for r in part])

    def share(mask: np.ndarray) -> float | None:
        return round(float(flagged[mask].mean()), 3) if mask.any() else None

    return {f"real_{key}_flagged": share(y), "real_others_flagged": share(~y), f"n_real_{key}": int(y.sum()),
            "n_real_others": int((~y).sum())}


def ngram_vocabulary(texts: list[str], max_n: int, min_df: int) -> dict[str, int]:
    """Column of each word 1- to `max_n`-gram found in at least `min_df` of `texts`."""
    from collections import Counter

    from callinkit.serve.embedder import ngram_features

    df = Counter(g for t in texts for g in ngram_features(t, max_n))
    return {g: i for i, g in enumerate(sorted(g for g, n in df.items() if n >= min_df))}


def ngram_matrix(texts: list[str], vocabulary: dict[str, int], max_n: int) -> Any:
    """Binary sparse matrix (texts x vocabulary) of the n-grams each text holds."""
    from scipy import sparse

    from callinkit.serve.embedder import ngram_features

    rows, cols = [], []
    for i, t in enumerate(texts):
        found = [vocabulary[g] for g in ngram_features(t, max_n) if g in vocabulary]
        rows += [i] * len(found)
        cols += found
    return sparse.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(texts), len(vocabulary)))


def threat_probe(embedder_dir: Path, threshold: float = 0.5, c: float = 0.3, real: list[dict[str, Any]] | None = None,
                 real_weight: float = 10.0, ngrams: int = 0, ngram_min_df: int = 3,
                 backstop: float | None = None) -> dict[str, Any]:
    """Fit the probe on the corpus's train split with the embedder in `embedder_dir` (plus the train fold of
    `real`, labelled real texts, each weighing `real_weight`); its validation figures (with the patterns beside
    it, as the guard uses them) go into the returned dict.

    `ngrams` > 0: the probe also reads the word 1- to `ngrams`-grams found in at least `ngram_min_df` training
    texts (one logistic regression over the embedding and the n-grams). The embedding alone read real banter
    ("where yo ass drivin to") as menace: with the 1,504 labelled real texts (scikit-learn, no backstop), 2-grams
    took the corpus's other validation call-outs flagged from 11% to 2% and held-out ParaDetox comments refused
    from 15 to 4 in 100, but missed corpus threats the embedding alone reads confidently; `backstop`: that embedding-only probe is
    kept beside it and flags wherever its own probability reaches this (model_cards/judging/2026-12-06-threat-ngrams/)."""
    from callinkit.corpus import load_corpus
    from callinkit.guard import THREAT_RE
    from callinkit.serve.embedder import SimilarityEmbedder, probe_probability

    embedder = SimilarityEmbedder(embedder_dir)
    corpus = load_corpus("classification")
    data = {}
    for split in ("train", "validation"):
        rows = list(corpus[split])
        data[split] = (embedder.encode([r["text"] for r in rows]),
                       np.array([r.get("style") == "threat" for r in rows]), rows)
    x, y, w = _with_real(data["train"][0], data["train"][1], embedder, real, "threat", real_weight)
    real_train = [r for r in real or [] if r["fold"] == "train"]  # the rows of x after the corpus's, in order

    def rounded(weights: np.ndarray, bias: float, thr: float) -> dict[str, Any]:
        return {"weights": [round(float(v), 6) for v in weights], "bias": round(bias, 6), "threshold": thr}

    if not ngrams:
        probe = rounded(*fit_probe(x, y, c, sample_weight=w), threshold)
    else:
        from scipy import sparse

        texts = [r["text"] for r in data["train"][2]] + [r["text"] for r in real_train]
        vocabulary = ngram_vocabulary(texts, ngrams, ngram_min_df)
        coef, nbias = fit_probe(sparse.hstack([sparse.csr_matrix(x), ngram_matrix(texts, vocabulary, ngrams)]).tocsr(),
                                y, c, sample_weight=w)
        dim = x.shape[1]
        table = {g: round(float(coef[dim + i]), 5) for g, i in vocabulary.items() if abs(coef[dim + i]) >= 1e-4}
        probe = {**rounded(coef[:dim], nbias, threshold),
                 "ngrams": {"max_n": ngrams, "min_df": ngram_min_df, "weights": table}}
        if backstop is not None:
            # the backstop is the embedding probe the default export fits: labelled real texts of the random sample
            # only (with the violent-word sample too, it flagged 61 real non-threats of 330 instead of 36, and
            # fewer corpus threats: probe_variants.txt)
            # (its texts are embedded again, in their own batches: taking their rows of x instead shifts the
            # int8 embedder's padding and the backstop with it, away from what was measured)
            random_real = [r for r in real_train if r.get("sample", "random") == "random"]
            bx, by, bw = _with_real(data["train"][0], data["train"][1], embedder, random_real, "threat", real_weight)
            probe["backstop"] = rounded(*fit_probe(bx, by, c, sample_weight=bw), backstop)

    def score(emb: np.ndarray, part: list[str]) -> np.ndarray:
        return probe_probability(probe, emb, part)

    x, y, rows = data["validation"]
    patterns = np.array([bool(THREAT_RE.search(r["text"])) for r in rows])
    flagged = (score(x, [r["text"] for r in rows]) >= threshold) | patterns
    other_call_outs = np.array([r["label"] == "call_out" for r in rows]) & ~y
    near_misses = np.array([r.get("style") == "threat_near_miss" for r in rows])
    reads = f" and word 1-{ngrams}-grams (min_df {ngram_min_df})" if ngrams else ""
    backstop_note = f"; embedding-only backstop (random real sample) at {backstop:g}" if ngrams and backstop is not None else ""
    return {**probe,
            "fitted_on": _fitted_on(f"{len(data['train'][2])} corpus train texts ({int(data['train'][1].sum())} threats)",
                                    real, real_weight) + reads + backstop_note,
            "validation": {"threats_flagged": round(float(flagged[y].mean()), 3),
                           "patterns_alone": round(float(patterns[y].mean()), 3),
                           "other_call_outs_flagged": round(float(flagged[other_call_outs].mean()), 3),
                           "near_misses_flagged": round(float(flagged[near_misses].mean()), 3),
                           "n_threats": int(y.sum()), "n_other_call_outs": int(other_call_outs.sum()),
                           **_real_validation(embedder, real, "threat", score, threshold, patterns=True)}}


def no_concern_probe(embedder_dir: Path, threshold: float = 0.8, c: float = 0.3,
                     real: list[dict[str, Any]] | None = None, real_weight: float = 1.0) -> dict[str, Any]:
    """A probe for call-outs with no concern beyond the attack ("who asked 💀", "nah ur just dumb"), fitted on
    the corpus pairs' call-outs of the train split (strategy `no_concern` against every other pair). LABELS.md
    says their rewrite states the disagreement without the attack, a neutral text, and must not invent a harm;
    the guard uses the probe to ask that of the candidates (serve/rewriter.py: `select(no_concern=True)`).
    `real`, `real_weight`: as `threat_probe` (label: no concern beyond the attack; labelled threats and samples
    not drawn at random left out)."""
    from callinkit.corpus import KINDS, pair_rows, read_records, read_splits
    from callinkit.serve.embedder import SimilarityEmbedder

    embedder = SimilarityEmbedder(embedder_dir)
    rows = pair_rows({k: read_records(k) for k in KINDS}, read_splits())
    data = {}
    for split in ("train", "validation"):
        part = [r for r in rows if r["split"] == split]
        data[split] = (embedder.encode([r["call_out"] for r in part]),
                       np.array([r.get("strategy") == "no_concern" for r in part]))
    # labelled threats left out, and samples drawn for the threat probe (texts with a violent word): their concern
    # labels are not a sample of real text, and with them the probe flagged half the real texts with a concern
    real = [r for r in real or [] if not r["threat"] and r.get("sample", "random") == "random"]
    x, y, w = _with_real(data["train"][0], data["train"][1], embedder, real, "no_concern", real_weight)
    weights, bias = fit_probe(x, y, c, sample_weight=w)
    x, y = data["validation"]
    flagged = probability(x, weights, bias) >= threshold
    return {"weights": [round(float(w), 6) for w in weights], "bias": round(bias, 6), "threshold": threshold,
            "fitted_on": _fitted_on(f"{len(data['train'][1])} corpus train call-outs "
                                    f"({int(data['train'][1].sum())} with no concern)", real, real_weight),
            "validation": {"no_concern_flagged": round(float(flagged[y].mean()), 3),
                           "other_call_outs_flagged": round(float(flagged[~y].mean()), 3),
                           "n_no_concern": int(y.sum()), "n_other_call_outs": int((~y).sum()),
                           **_real_validation(embedder, real, "no_concern",
                                              lambda e, _: probability(e, weights, bias), threshold)}}


HATE_PROBE_FILE = "hate_probe.json"
# The Reddit counter-speech replies labelled hate by a model, distinct and shuffled with this seed: the first
# REDDIT_HATE_EVALUATED are the judged evaluation samples of model_cards/judging/2026-12-07-davidson/ (sources.py),
# so the probe learns only from the rest.
REDDIT_HATE_SEED, REDDIT_HATE_EVALUATED = 25, 700


def _blank_attack(text: str) -> str:
    """`text` without its insults, slurs, profanity and dismissive phrases, so that a probe fitted on it learns the
    claim, not the words the guard's lists already catch."""
    import re

    from callinkit.guard import INSULT_RE, PHRASE_RE, SLUR_RE

    spans = sorted((m.span() for rx in (INSULT_RE, SLUR_RE, PHRASE_RE) for m in rx.finditer(text)), reverse=True)
    for a, b in spans:
        text = text[:a] + text[b:]
    return re.sub(r"\s+", " ", text).strip()


def reddit_hate_replies(data_dir: str | Path) -> list[str]:
    """The distinct cleaned replies that Reddit counter-speech's model-labelled file (`gpt_4o_labels.csv`) labels
    hate (1), less those its human-labelled file labels hate, shuffled with REDDIT_HATE_SEED: the order in which
    the judged samples (model_cards/judging/2026-12-07-davidson/sources.py) and the hate probe take them."""
    import random

    from callinkit.corpus.proxies import _clean, _read_table

    folder = Path(data_dir) / "reddit_counterspeech"
    human = _read_table(folder / "validation_set.csv", ("reply", "label")).to_dict("records")
    human_hate = {_clean(r["reply"], unescape=True) for r in human if str(r["label"]).strip() == "1"}
    gpt = _read_table(folder / "gpt_4o_labels.csv", ("reply", "label")).to_dict("records")
    replies = sorted({_clean(r["reply"], unescape=True) for r in gpt if str(r["label"]).strip() == "1"}
                     - {""} - human_hate)
    random.Random(REDDIT_HATE_SEED).shuffle(replies)
    return replies


def hate_texts(data_dir: str | Path, seed: int = 0, negatives: dict[str, int] | None = None) -> tuple[list[str], list[str]]:
    """(hateful, not hateful) real texts for `hate_probe`, from the public corpora in `data_dir`
    (`../shared/data`): hateful = Reddit counter-speech replies a model labelled hate (after the first
    REDDIT_HATE_EVALUATED of its shuffle, which are evaluation samples) and CrowdCounter's training hate posts;
    not hateful = a seeded sample of that file's "other" replies, Davidson's "neither" tweets, and the corpus's
    train-split call-ins (which name harms to groups without attacking them) and neutral texts."""
    import random

    from callinkit.corpus import pair_rows, read_records, read_splits
    from callinkit.corpus.proxies import _clean, _read_table
    from callinkit.errors import DataError

    data = Path(data_dir)
    need = [data / "reddit_counterspeech" / f for f in ("gpt_4o_labels.csv", "validation_set.csv")]
    need += [data / "crowdcounter" / "Train.json", data / "davidson" / "labeled_data.csv"]
    missing = [str(f) for f in need if not f.is_file()]
    if missing:
        raise DataError(f"the hate probe learns from the public corpora; missing {', '.join(missing)} (set "
                        "export.hate_probe_data to the folder that holds reddit_counterspeech/, crowdcounter/ and "
                        "davidson/, or leave export.hate_probe_threshold unset)")
    reddit_hate = reddit_hate_replies(data)
    gpt = _read_table(need[0], ("reply", "label")).to_dict("records")
    other = sorted({_clean(r["reply"], unescape=True) for r in gpt if str(r["label"]).strip() == "0"} - {""})
    crowd = sorted({_clean(json.loads(line)["hatespeech"], unescape=True)
                    for line in need[2].read_text(encoding="utf-8").splitlines() if line.strip()} - {""})
    davidson = _read_table(need[3], ("tweet", "class"))
    neither = sorted({_clean(r["tweet"], unescape=True) for r in davidson.to_dict("records")
                      if str(r["class"]).strip() == "2"} - {""})
    records = {k: read_records(k) for k in ("pairs", "neutral", "singles")}
    call_ins = [r["call_in"] for r in pair_rows(records, read_splits()) if r["split"] == "train"]
    neutral = [r.data["text"] for r in records["neutral"]]
    n = {"reddit_other": 3000, "davidson_neither": 2000, "call_ins": 3000, "neutral": 2000} | (negatives or {})
    rnd = random.Random(seed)
    pools = {"reddit_other": other, "davidson_neither": neither, "call_ins": call_ins, "neutral": neutral}
    not_hateful = [t for name, pool in pools.items() for t in rnd.sample(pool, min(n[name], len(pool)))]
    return reddit_hate[REDDIT_HATE_EVALUATED:] + crowd, not_hateful


def hate_probe(embedder_dir: Path, data_dir: str | Path, threshold: float = 0.8, c: float = 0.3) -> dict[str, Any]:
    """A probe for hateful claims about a group of people: logistic regression on the embedder's sentence
    embedding of `hate_texts(data_dir)` with their attack words blanked. Real hateful replies are mostly such
    claims made with no slur, which no word list reaches; on session 25's judged answers it reads harm better on
    Reddit replies than on tweets (AUC 0.74 against 0.64; model_cards/judging/2026-12-07-davidson/)."""
    from callinkit.serve.embedder import SimilarityEmbedder

    hateful, not_hateful = hate_texts(data_dir)
    embedder = SimilarityEmbedder(embedder_dir)
    texts = [_blank_attack(t) or t for t in hateful + not_hateful]
    x = np.concatenate([embedder.encode(texts[i:i + 64]) for i in range(0, len(texts), 64)])
    y = np.array([1] * len(hateful) + [0] * len(not_hateful))
    weights, bias = fit_probe(x, y, c=c)
    return {"weights": weights.tolist(), "bias": bias, "threshold": threshold,
            "fitted_on": {"hateful": len(hateful), "not_hateful": len(not_hateful), "c": c,
                          "sources": "reddit_counterspeech (model-labelled hate after item "
                                     f"{REDDIT_HATE_EVALUATED}, other), crowdcounter Train hate posts, davidson "
                                     "neither, corpus train call-ins and neutral texts; attack words blanked"}}


def write_probe_file(bundle_dir: Path, name: str, probe: dict[str, Any]) -> None:
    (Path(bundle_dir) / name).write_text(json.dumps(probe, indent=1) + "\n")

