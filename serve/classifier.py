"""Torch-free classification with an exported bundle: `Classifier.load(bundle).predict(texts)`."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from callinkit.bundle import read_manifest
from callinkit.scoring import softmax
from callinkit.serve.runtime import Device, make_session, resolve_bundle

# Bundles exported before the uncertainty threshold was chosen on validation data flag predictions below this.
DEFAULT_UNCERTAIN_BELOW = 0.6

# Explanation spans: words scoring at least EXPLAIN_RELATIVE x the text's best word and EXPLAIN_MIN_SCORE log-odds.
EXPLAIN_WINDOW = 1  # runs of up to this many adjacent words are left out (1 agreed best with toxic spans)
EXPLAIN_RELATIVE = 0.3  # chosen on the toxic-spans trial split (python -m callinkit.train.explain_eval)
EXPLAIN_MIN_SCORE = 0.25

# A "word" for explanations: letters, digits and the marks that live inside words or handles (don't, f***,
# @dan_r, #CourtsForAll, 9/11). Punctuation between words is never a span on its own.
WORD_RE = re.compile(r"[\w@#][\w'’*@#./:-]*[\w*]|[\w@#*]")


@dataclass(frozen=True)
class Prediction:
    """One text's label, the probability of every label (they sum to 1), and whether it is too close to call.

    `uncertain` is True when the top probability is below the bundle's `uncertain_below` threshold (chosen on
    validation data at export): route such messages to a person instead of acting on the label."""

    label: str
    scores: dict[str, float]
    uncertain: bool = False

    @property
    def score(self) -> float:
        """Probability of the predicted label."""
        return self.scores[self.label]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "scores": dict(self.scores), "uncertain": self.uncertain}


@dataclass(frozen=True)
class Span:
    """Characters `text[start:end]` of the input and how much they pushed it toward the explained label: the
    drop in that label's log-odds when these words are left out (1.0 = the odds fall by a factor of e)."""

    start: int
    end: int
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "score": round(self.score, 4)}


@dataclass(frozen=True)
class Explanation:
    """Why a text got its label: the prediction, the label explained, the spans that pushed toward it
    (strongest first) and every word's score in text order (negative = pushed away from the label)."""

    prediction: Prediction
    label: str
    spans: list[Span]
    words: list[Span] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**self.prediction.to_dict(), "explained_label": self.label,
                "spans": [sp.to_dict() for sp in self.spans], "words": [w.to_dict() for w in self.words]}


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def word_spans(text: str, max_words: int) -> list[tuple[int, int]]:
    """(start, end) of the first `max_words` words of `text`."""
    return [m.span() for m in WORD_RE.finditer(text)][:max_words]


def without(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """`text` with the given character spans removed and the spaces around them collapsed."""
    out, last = [], 0
    for start, end in sorted(spans):
        out.append(text[last:start])
        last = end
    out.append(text[last:])
    return re.sub(r"[ \t]{2,}", " ", "".join(out)).strip()


def merge_spans(text: str, words: Sequence[Span], min_score: float) -> list[Span]:
    """Adjacent words scoring at least `min_score` merged into spans (a span's score is its best word's).
    Punctuation between two such words joins them; any other word in between starts a new span."""
    spans: list[Span] = []
    run: list[Span] = []

    def flush() -> None:
        if run:
            start, end = run[0].start, run[-1].end
            spans.append(Span(start, end, text[start:end], max(w.score for w in run)))
            run.clear()

    for w in words:
        if w.score >= min_score:
            if run and text[run[-1].end:w.start].strip(" ,;:'\"") != "":  # a real gap: start a new span
                flush()
            run.append(w)
        else:
            flush()
    flush()
    return sorted(spans, key=lambda sp: -sp.score)


def _check_texts(texts: Sequence[str], method: str) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{method}() takes a list of strings; for one text use {method}_one(text)")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(f"{method}(): item {i} is {type(t).__name__}, expected str")
    return out


# Texts tokenized and length-sorted together by `Classifier.logits`: bounds its memory on any list, and is
# large enough that sorting removes most padding (corpus text: 256 texts sorted already give 1.2 padded/real).
SORT_WINDOW = 4096
# The fixed cost of one onnxruntime run, in padded tokens: splitting a call into one more group must save more
# tokens of padding than this. Measured on MiniLM int8 with 2 threads: 32 corpus texts ran in 207 ms as one
# padded batch and in 125-128 ms as groups at a cost of 8 to 64 tokens (32 gives 3-5 groups).
RUN_COST_TOKENS = 32


def length_groups(lengths: np.ndarray, max_size: int, run_cost: int = RUN_COST_TOKENS) -> list[np.ndarray]:
    """Cut texts into runs of at most `max_size` that minimise padded tokens + `run_cost` per run: the texts
    sorted by length (stable), then the best split into contiguous groups by dynamic programming (each group
    pays its size x its longest length). Returns index arrays into `lengths`, together covering every index
    once; a single text is one group."""
    lengths = np.asarray(lengths)
    n = len(lengths)
    if n <= 1:
        return [np.arange(n)] if n else []
    order = np.argsort(lengths, kind="stable")
    sorted_lengths = lengths[order].astype(np.int64)
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    cut = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):  # the group ending at `end` (exclusive) starts at some i; its width is the last
        starts = np.arange(max(0, end - max_size), end)
        costs = best[starts] + (end - starts) * sorted_lengths[end - 1] + run_cost
        k = int(costs.argmin())
        best[end], cut[end] = costs[k], starts[k]
    groups, end = [], n
    while end > 0:
        groups.append(order[cut[end]:end])
        end = int(cut[end])
    return groups[::-1]


class Classifier:
    """A call_out / call_in / neutral classifier running an ONNX bundle with onnxruntime."""

    def __init__(self, bundle_dir: Path, device: Device = "cpu", batch_size: int = 32,
                 threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        self.bundle_dir = Path(bundle_dir)
        self.manifest = read_manifest(self.bundle_dir, kind="classifier")
        self.labels: tuple[str, ...] = tuple(self.manifest["labels"])
        self.max_length = int(self.manifest["max_length"])
        self.temperature = float(self.manifest.get("temperature", 1.0))
        self.uncertain_below = float(self.manifest.get("uncertain_below", DEFAULT_UNCERTAIN_BELOW))
        self.batch_size = batch_size
        self.device = device
        self.session = make_session(self.bundle_dir / "model.onnx", device, threads)
        self._input_names = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(self.bundle_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.enable_padding(pad_id=int(self.manifest.get("pad_token_id", 0)),
                                      pad_token=self.manifest.get("pad_token", "[PAD]"))

    @classmethod
    def load(cls, bundle: str | os.PathLike[str] | None = None, device: Device = "cpu",
             batch_size: int = 32, threads: int | None = None) -> Classifier:
        """Load a classifier bundle (default: $CALLINKIT_CLASSIFIER_BUNDLE, else the shipped release)."""
        return cls(resolve_bundle("classifier", bundle), device=device, batch_size=batch_size, threads=threads)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Raw logits, one row per text, in input order.

        Texts run in groups of similar length, each cut to its own longest text, so a short message is not
        padded to a long one's length: within windows of `SORT_WINDOW` texts (memory stays bounded for any
        list) they are sorted by token count and cut into groups of at most `batch_size` by `length_groups`,
        which weighs padding against the fixed cost of a run. On 32 corpus texts this computes about half the
        tokens of one padded batch (padded / real tokens 2.1 in input order, 1.2 sorted; bench/RESULTS.md)."""
        texts = _check_texts(texts, "logits")
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        for window in range(0, len(texts), SORT_WINDOW):
            chunk = texts[window:window + SORT_WINDOW]
            encodings = self.tokenizer.encode_batch(chunk)  # padded on the right to the chunk's longest text
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            lengths = mask.sum(axis=1)
            for rows in length_groups(lengths, self.batch_size):
                width = max(1, int(lengths[rows].max()))
                feed = {"input_ids": ids[rows, :width], "attention_mask": mask[rows, :width]}
                if "token_type_ids" in self._input_names:
                    feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
                out[window + rows] = self.session.run(["logits"], feed)[0]
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Label probabilities, one row per text, columns in `self.labels` order."""
        return softmax(self.logits(_check_texts(texts, "predict_proba")), self.temperature)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One Prediction per input text, in order; an empty list gives an empty list."""
        return self._predictions(self.predict_proba(_check_texts(texts, "predict")))

    def _predictions(self, probs: np.ndarray) -> list[Prediction]:
        return [
            Prediction(label=self.labels[int(row.argmax())],
                       scores={name: float(p) for name, p in zip(self.labels, row)},
                       uncertain=bool(row.max() < self.uncertain_below))
            for row in probs
        ]

    def explain(self, texts: Sequence[str], label: str | None = None, relative: float = EXPLAIN_RELATIVE,
                min_score: float = EXPLAIN_MIN_SCORE, max_words: int = 64,
                window: int = EXPLAIN_WINDOW) -> list[Explanation]:
        """For each text, its prediction and the word spans that pushed it toward `label` (default: the
        predicted label), by occlusion: every run of 1 to `window` adjacent words is left out in turn, the drop
        in the label's log-odds is that run's score, and a word's score is the best score of the runs that hold
        it (log-odds, not probability: a confident prediction barely moves in probability when one of two
        insults goes; runs, not single words: "break your jaw" says more than any of its words). All the
        variants of all the texts run as one batched ONNX call; no torch.

        Spans are runs of adjacent words scoring at least `relative` x the text's best word score and at least
        `min_score` (defaults chosen on the toxic-spans proxy, see the model card); `max_words` caps the words
        scored per text (later words get no score)."""
        texts = _check_texts(texts, "explain")
        if label is not None and label not in self.labels:
            raise ValueError(f"explain(): label {label!r} is not one of {list(self.labels)}")
        if window < 1:
            raise ValueError(f"explain(): window must be at least 1, got {window}")
        words = [word_spans(t, max_words) for t in texts]
        runs = [[(i, j) for size in range(1, window + 1) for i in range(len(ws) - size + 1) for j in [i + size]]
                for ws in words]
        variants = [v for t, ws, rs in zip(texts, words, runs) for v in [t] + [without(t, [(ws[i][0], ws[j - 1][1])])
                                                                            for i, j in rs]]
        probs = self.predict_proba(variants) if variants else np.zeros((0, len(self.labels)))
        out, row = [], 0
        for text, ws, rs in zip(texts, words, runs):
            full = probs[row]
            prediction = self._predictions(full[None])[0]
            name = label or prediction.label
            k = self.labels.index(name)
            odds = _log_odds(probs[row:row + 1 + len(rs), k])
            best_of = [-np.inf] * len(ws)
            for (i, j), drop in zip(rs, odds[0] - odds[1:]):
                for w in range(i, j):
                    best_of[w] = max(best_of[w], float(drop))
            scored = [Span(a, b, text[a:b], best_of[n]) for n, (a, b) in enumerate(ws)]
            best = max((w.score for w in scored), default=0.0)
            spans = merge_spans(text, scored, max(min_score, relative * best)) if best >= min_score else []
            out.append(Explanation(prediction, name, spans, scored))
            row += 1 + len(rs)
        return out

    def predict_each(self, texts: Sequence[str]) -> list[Prediction]:
        """`predict()` with each text in a run of its own when batching would change its scores.

        An int8 bundle quantizes activations dynamically, with one scale per input tensor, so in a batch a text's
        probabilities follow its batch-mates (the shipped classifier, 1,000 corpus texts in batches of 32
        against one by one: 99th percentile |dP| 0.08, max 0.22). The rewriter's guard uses this, so that whether
        a candidate passes does not depend on the other candidates; it is slower per text (1.7x on the shipped
        int8 classifier), which is why `predict()` batches. fp32 bundles are batched as in `predict()`."""
        texts = _check_texts(texts, "predict_each")
        if self.manifest.get("quantization") != "int8":
            return self.predict(texts)
        return [self.predict([t])[0] for t in texts]

    def predict_one(self, text: str) -> Prediction:
        """The Prediction for a single text."""
        if not isinstance(text, str):
            raise TypeError(f"predict_one() takes a str, got {type(text).__name__}; use predict() for a list")
        return self.predict([text])[0]

    def __repr__(self) -> str:
        return f"Classifier({str(self.bundle_dir)!r}, device={self.device!r}, labels={list(self.labels)})"
