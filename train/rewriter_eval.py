"""Evaluate a rewriter bundle against baselines: STA, SIM, chrF and J per system and slice.

Systems: copy-the-input, delete-the-insults (a small lexicon), a rule-based call-in template, and the
model (greedy, and reranked over beam candidates). Slices: the corpus test split, its unseen-topic slice,
and a ParaDetox slice that training never saw; plus copy fidelity (chrF of output vs input) on neutral
test texts, which a good rewriter changes little.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

# Insults, profanity and pile-on words a call-in drops (the delete-the-insults baseline).
INSULT_LEXICON = (
    "idiot", "idiots", "moron", "morons", "clown", "clowns", "stupid", "dumb", "dumbass", "pathetic", "loser",
    "losers", "fuck", "fucking", "fucked", "shit", "shitty", "bullshit", "trash", "garbage", "bigot", "bigots",
    "jerk", "ass", "asshole", "lmao", "lmfao", "lol", "ratio", "cringe", "disgusting", "embarrassing",
    "ignorant", "hack", "joke", "scumbag", "creep", "pig", "imbecile", "wow", "yikes", "smh", "damn", "hell",
    "absolute", "literally", "educate yourself", "log off", "nobody asked", "delete this", "do better",
)
_LEXICON_RE = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in sorted(INSULT_LEXICON, key=len, reverse=True))
                         + r")\b", re.IGNORECASE)


def baseline_copy(text: str) -> str:
    return text


def baseline_delete_insults(text: str) -> str:
    """Drop lexicon words, hashtags and emoji; calm all-caps; tidy spacing."""
    out = _LEXICON_RE.sub("", text)
    out = re.sub(r"(?<!\w)#\w+", "", out)
    out = re.sub(r"[\U0001F000-\U0001FAFF\u2600-\u27BF]", "", out)
    if sum(c.isupper() for c in out) > 0.6 * max(1, sum(c.isalpha() for c in out)):
        out = out.lower()
    out = re.sub(r"\s+([,.!?])", r"\1", re.sub(r"\s{2,}", " ", out)).strip(" ,.!?")
    return (out[:1].upper() + out[1:] + ".") if out else text


def baseline_template(text: str) -> str:
    """A fixed call-in frame around the insult-free message."""
    core = baseline_delete_insults(text).rstrip(".")
    core = core[:1].lower() + core[1:]
    return f"I don't think you meant harm, but {core}. Could we talk about it?"


BASELINES: dict[str, Callable[[str], str]] = {
    "copy": baseline_copy, "delete_insults": baseline_delete_insults, "template": baseline_template,
}


def pair_slices(config_path: str | None = None, paradetox: str | None = None, limit: int | None = None
                ) -> dict[str, list[dict[str, Any]]]:
    """{slice name: rows with call_out / call_in} for the corpus test split, unseen topics and ParaDetox."""
    from callinkit.corpus import KINDS, pair_rows, read_records, read_splits

    rows = [r for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits()) if r["split"] == "test"]
    slices = {"corpus_test": rows, "corpus_unseen_topics": [r for r in rows if r["unseen_topic"]]}
    if paradetox and Path(paradetox).exists():
        from callinkit.config import SourceConfig
        from callinkit.train.data import assign_missing_splits, source_rows

        pd_rows = source_rows(SourceConfig(name="paradetox", path=paradetox), "pairs")
        # The same hash split the rewriter recipe uses (seed 42, 5% / 5%): these test rows were never trained on.
        assign_missing_splits(pd_rows, 0.05, 0.05, 42)
        seen, held = set(), []
        for r in pd_rows:
            if r["split"] == "test" and r["call_out"] not in seen:
                seen.add(r["call_out"])
                held.append(r)
        slices["paradetox_heldout"] = held[:300]
    if limit:
        slices = {k: v[:limit] for k, v in slices.items()}
    return slices


def neutral_test_texts(limit: int | None = None) -> list[str]:
    from callinkit.corpus import KINDS, classification_rows, read_records, read_splits

    rows = classification_rows({k: read_records(k) for k in KINDS}, read_splits())
    texts = [r["text"] for r in rows if r["split"] == "test" and r["label"] == "neutral"]
    return texts[:limit] if limit else texts


def score_outputs(outputs: Sequence[str], rows: Sequence[dict[str, Any]], classifier, embedder) -> dict[str, float]:
    from callinkit.metrics import load_metric
    from callinkit.serve.embedder import concern_similarity

    sources = [r["call_out"] for r in rows]
    labels = [p.label for p in classifier.predict(list(outputs))]
    sims = concern_similarity(embedder, sources, list(outputs)).tolist()
    return load_metric("callin_rewrite").compute(predictions=list(outputs), references=[r["call_in"] for r in rows],
                                                 output_labels=labels, similarities=sims)


def rewrite_all(rewriter, texts: Sequence[str], num_candidates: int, desc: str, chunk: int = 32) -> list[str]:
    """The best rewrite of each text, with a progress bar."""
    from tqdm.auto import tqdm

    out: list[str] = []
    for start in tqdm(range(0, len(texts), chunk), desc=desc, unit="chunk"):
        out += [r.text for r in rewriter.rewrite(texts[start:start + chunk], num_candidates=num_candidates)]
    return out


def file_pairs(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """call_out / call_in rows of a user's JSONL or CSV pairs file."""
    from callinkit.corpus.check import read_path
    from callinkit.errors import DataError

    records = read_path(Path(path))
    rows = [r.data for r in records if isinstance(r.data.get("call_out"), str) and isinstance(r.data.get("call_in"), str)]
    if not rows or len(rows) != len(records):
        raise DataError(f"{path}: a rewriter is evaluated on pairs; every row needs text fields call_out and call_in "
                        f"({len(records) - len(rows)} of {len(records)} rows lack them)")
    return rows[:limit] if limit else rows


def run_rewriter_eval(bundle: str, data: str = "callin_corpus", paradetox: str | None = "../shared/data/paradetox",
                      limit: int | None = None, num_candidates: int = 4, out: Path | None = None) -> dict[str, Any]:
    """The metric table (systems x slices) and copy fidelity; printed, and written as JSON to `out`.

    `data` is `callin_corpus` (the test split, its unseen topics, held-out ParaDetox, and copy fidelity on the
    neutral test texts) or a JSONL/CSV file of call_out / call_in pairs (one slice named after the file)."""
    from sacrebleu.metrics import CHRF

    from callinkit.errors import BundleError
    from callinkit.serve import Rewriter

    rewriter = Rewriter.load(bundle)
    if rewriter.classifier is None or rewriter.embedder is None:
        raise BundleError(f"{bundle} has no classifier/ or embedder/ inside; export it with --classifier BUNDLE")
    corpus = data.split(":")[0] == "callin_corpus"
    slices = pair_slices(paradetox=paradetox, limit=limit) if corpus else {Path(data).stem: file_pairs(data, limit)}
    # The unseen-topic slice is part of the test split: rewrite every distinct source once.
    unique = list(dict.fromkeys(r["call_out"] for rows in slices.values() for r in rows))
    greedy = dict(zip(unique, rewrite_all(rewriter, unique, 1, "greedy")))
    reranked = dict(zip(unique, rewrite_all(rewriter, unique, num_candidates, f"beam + rerank ({num_candidates})")))
    table: dict[str, dict[str, dict[str, float]]] = {}
    samples: dict[str, list[dict[str, str]]] = {}
    for name, rows in slices.items():
        if not rows:
            continue
        sources = [r["call_out"] for r in rows]
        systems = {b: [fn(s) for s in sources] for b, fn in BASELINES.items()}
        systems["model_greedy"] = [greedy[s] for s in sources]
        systems["model_reranked"] = [reranked[s] for s in sources]
        table[name] = {system: score_outputs(outs, rows, rewriter.classifier, rewriter.embedder)
                       for system, outs in systems.items()}
        samples[name] = [{"source": s, "reference": r["call_in"], **{k: v[i] for k, v in systems.items()}}
                         for i, (s, r) in enumerate(zip(sources, rows))]
    neutral = neutral_test_texts(limit) if corpus else []
    copies = rewrite_all(rewriter, neutral, 1, "neutral (copy fidelity)")
    fidelity = CHRF().corpus_score(copies, [neutral]).score if neutral else 0.0
    result = {"bundle": str(bundle), "data": data, "table": table,
              "copy_fidelity_chrf_on_neutral_test": fidelity if neutral else None, "n_neutral": len(neutral)}
    print(format_rewrite_table(table))
    if neutral:
        print(f"copy fidelity on {len(neutral)} neutral test texts: chrF {fidelity:.1f}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**result, "samples": samples}, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {out}")
    return result


def format_rewrite_table(table: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [f"{'slice':<22} {'system':<16} {'n':>4} {'STA':>6} {'SIM':>6} {'chrF':>6} {'J':>6}"]
    for name, systems in table.items():
        for system, m in systems.items():
            lines.append(f"{name:<22} {system:<16} {m['n']:>4} {m['sta']:>6.3f} {m['sim']:>6.3f} {m['chrf']:>6.1f} "
                         f"{m['j']:>6.3f}")
    return "\n".join(lines)
