"""Loaders, by path, for the public proxy corpora in shared/data (see data_cards/<name>.md).

None of these is a call-out/call-in corpus. Each loader maps its corpus's own labels onto LABELS.md's
call_out / call_in / neutral with an explicit module-level dict; a label mapped to None is dropped.
The rule throughout is conservative: drop what is ambiguous rather than mislabel it.

    load_proxy("crowdcounter", "/work/shared/data/crowdcounter", "classification")
    -> [{"text": ..., "label": "call_out", "split": "train", "source": "crowdcounter"}, ...]
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from callinkit.errors import DataError
from callinkit.guard import SECOND_PERSON_RE

PROXIES: tuple[str, ...] = ("paradetox", "crowdcounter", "davidson", "tydip", "positive_frames",
                            "reddit_counterspeech")
Task = Literal["classification", "pairs"]
Row = tuple[str, str, str | None]  # (text, label, split)

# --- Label mappings (corpus label -> ours; None = dropped, with the reason) ----------------------------------

PARADETOX_LABELS: dict[str, str | None] = {
    "toxic": None,  # hostile sentences, but most attack a third party or no one: not call-outs (README note)
    "neutral1": "neutral",  # human detoxified paraphrases
    "neutral2": "neutral",
    "neutral3": "neutral",
}
CROWDCOUNTER_LABELS: dict[str, str | None] = {
    "shaming": "call_out",  # attacks the poster ("how dare you", "higher IQ than you")
    "warning-of-consequences": "call_out",  # threats to standing: "you'll be reported / lose your job"
    "empathy_affiliation": "call_in",  # acknowledges the person, names the impact
    "questions": "call_in",  # invites the poster to explain or reconsider
    "humour": None,  # as often sarcastic mockery (call_out) as light deflection (neutral): ambiguous
    "contradiction": None,  # factual rebuttal: could be a firm call-in or plain disagreement
}
DAVIDSON_LABELS: dict[int, str | None] = {
    0: None,  # hate speech: hostile, but does not confront anyone's conduct
    1: None,  # offensive language: same
    2: "neutral",  # neither (kept only when every annotator said "neither")
}
TYDIP_STRONGLY_IMPOLITE = -2.0  # score <= this: sarcasm, insults, ultimatums about the addressee's edits
TYDIP_LABELS: dict[str, str | None] = {
    "polite": "neutral",  # score >= 0: ordinary requests
    "impolite": None,  # -2 < score < 0: curt or reproachful requests; neither clearly neutral nor a call-out
    "strongly_impolite": "call_out",  # score <= -2: ~5 in 6 read as call-outs, none as call-ins
}
POSITIVE_FRAMES_LABELS: dict[str, str | None] = {
    "original_text": "neutral",  # negative self-talk; self-criticism is neutral (LABELS.md)
    "reframed_text": "neutral",  # positive reframe of it
}
REDDIT_COUNTERSPEECH_LABELS: dict[int, str | None] = {
    0: "neutral",  # "other" speech in hate subreddits (second-person replies dropped, see NOISY_NEUTRAL)
    1: None,  # hate speech: hostile, not a call-out
    2: None,  # counterspeech: hostile call-outs and inviting call-ins alike, not told apart by the corpus
}

# Neutral labels that come from a class which also holds some addressed attacks ("you support killing
# babies", "you manlets are entitled"): for these, texts that address someone in the second person are
# dropped, since confronting a person is what call-outs do.
NOISY_NEUTRAL = {"paradetox", "davidson", "positive_frames:original_text", "reddit_counterspeech"}
PLACEHOLDERS = {"[deleted]", "[removed]", "<MISSING>"}

# Files read for a corpus folder (all required) and the split each one gives.
FILES: dict[str, dict[str, str | None]] = {
    "paradetox": {"paradetox.tsv": None},
    "crowdcounter": {"Train.json": "train", "Val.json": "validation", "Test.json": "test"},
    "davidson": {"labeled_data.csv": None},
    "tydip": {"en_train.csv": "train", "en_test.csv": "test"},
    "positive_frames": {"wholetrain.csv": "train", "wholedev.csv": "validation", "wholetest.csv": "test"},
    # the datasheet: GPT-4o labels were used for training, human labels for validation
    "reddit_counterspeech": {"gpt_4o_labels.csv": "train", "validation_set.csv": "validation"},
}
EXTRA_FILES: dict[str, dict[str, str | None]] = {"crowdcounter": {"Final_Dataset.json": None}}
UNUSED_FILES = {
    "paradetox_cannot_rewrite.tsv": "it holds toxic sentences annotators could not detoxify, and its "
    "'not_toxic' verdicts are unreliable (many still insult someone), so callinkit uses none of it",
}
NOT_PARALLEL = {
    "reddit_counterspeech": "its datasheet asks that it not be used to train text generators: use it for "
    "classification only",
}


def load_proxy(name: str, path: str | os.PathLike, task: Task) -> list[dict[str, Any]]:
    """Load one proxy corpus from its folder (or one of its files) as classification records or pairs."""
    if name not in PROXIES:
        raise ValueError(f"unknown proxy corpus {name!r}; expected one of {PROXIES}")
    if task not in ("classification", "pairs"):
        raise ValueError(f"task must be 'classification' or 'pairs', got {task!r}")
    if task == "pairs" and name != "paradetox":
        reason = NOT_PARALLEL.get(name, "it has no parallel call-out -> call-in rewrites")
        raise DataError(f"{name} cannot be loaded as pairs: {reason}. Only paradetox is a parallel corpus.")
    files = _resolve(name, Path(path))
    if task == "pairs":
        pairs = [p for file, split in files for p in _paradetox_pairs(file, split)]
        return _dedupe_pairs(pairs)
    rows = [row for file, split in files for row in READERS[name](file, split)]
    return [{"text": t, "label": lab, "split": s, "source": name} for t, lab, s in _dedupe(rows)]


# --- Paths and reading --------------------------------------------------------------------------------------


def _resolve(name: str, path: Path) -> list[tuple[Path, str | None]]:
    """The (file, split) list to read for `path`: the corpus folder, or a single file of it."""
    known = {**FILES[name], **EXTRA_FILES.get(name, {})}
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; expected the {name} folder or one of {sorted(known)}")
    if path.is_file():
        if path.name in UNUSED_FILES:
            raise DataError(f"{path}: not loadable as {name}: {UNUSED_FILES[path.name]}")
        if path.name not in known:
            raise DataError(f"{path}: not a {name} file; expected one of {sorted(known)}")
        return [(path, known[path.name])]
    missing = [f for f in FILES[name] if not (path / f).is_file()]
    if missing:
        raise DataError(f"{path}: not a {name} folder; missing {missing} (expected {list(FILES[name])})")
    return [(path / f, split) for f, split in FILES[name].items()]


def _read_table(file: Path, columns: Iterable[str], sep: str = ",") -> pd.DataFrame:
    """Read a CSV/TSV as strings (no NA guessing) and check that it has the expected columns."""
    try:
        df = pd.read_csv(file, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{file}: could not be read as {'TSV' if sep == chr(9) else 'CSV'} ({exc})") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{file}: missing column(s) {missing}; expected {list(columns)}, found {list(df.columns)}")
    return df


def _number(value: str, file: Path, row: int, column: str, kind: Callable[[str], Any] = int) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise DataError(f"{file}: data row {row}: column {column!r} should be a number, got {value!r}") from None


def _clean(text: Any, unescape: bool = False) -> str:
    """Strip whitespace (and HTML entities if asked); placeholders such as [deleted] become ''."""
    text = str(text).replace("\r\n", "\n").strip()
    if unescape:
        text = html.unescape(text).strip()
    return "" if text in PLACEHOLDERS else text


def _addressed(key: str, text: str) -> bool:
    """True for a text from a noisy neutral source (NOISY_NEUTRAL) that addresses someone as "you"."""
    return key in NOISY_NEUTRAL and SECOND_PERSON_RE.search(text) is not None


def _same(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


# --- Readers: each yields (text, label, split) rows, unlabelled rows already dropped ------------------------


def _paradetox(file: Path, split: str | None) -> list[Row]:
    df = _read_table(file, PARADETOX_LABELS, sep="\t")
    rows = []
    for rec in df.to_dict("records"):
        toxic = _clean(rec["toxic"])
        for col, label in PARADETOX_LABELS.items():
            text = _clean(rec[col])
            if label and text and not _same(text, toxic) and not _addressed("paradetox", text):
                rows.append((text, label, split))
    return rows


def _paradetox_pairs(file: Path, split: str | None) -> list[dict[str, Any]]:
    df = _read_table(file, PARADETOX_LABELS, sep="\t")
    pairs = []
    for rec in df.to_dict("records"):
        toxic = _clean(rec["toxic"])
        for col in ("neutral1", "neutral2", "neutral3"):
            neutral = _clean(rec[col])
            if toxic and neutral and not _same(toxic, neutral):  # an unchanged "paraphrase" is no rewrite
                pairs.append({"call_out": toxic, "call_in": neutral, "split": split, "source": "paradetox"})
    return pairs


def _crowdcounter_label(types: list[str], required: str, where: str) -> str | None:
    """The required type's label, unless another type the response also shows maps to a different label."""
    unknown = [t for t in [required, *types] if t not in CROWDCOUNTER_LABELS]
    if unknown:
        raise DataError(f"{where}: unknown counterspeech type(s) {unknown}; expected {list(CROWDCOUNTER_LABELS)}")
    label = CROWDCOUNTER_LABELS[required]
    others = {CROWDCOUNTER_LABELS[t] for t in types} - {None, label}
    return None if others else label


def _crowdcounter(file: Path, split: str | None) -> list[Row]:
    if file.name == "Final_Dataset.json":
        return _crowdcounter_final(file)
    rows = []
    with open(file, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            where = f"{file}:{number}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg}); expected one object per line") from None
            keys = ("counterspeech", "required_types", "total_types")
            if not isinstance(obj, dict) or any(k not in obj for k in keys):
                raise DataError(f"{where}: expected a JSON object with keys {list(keys)}")
            label = _crowdcounter_label(list(obj["total_types"]), obj["required_types"], where)
            text = _clean(obj["counterspeech"])
            if label and text:
                rows.append((text, label, split))
    return rows


def _crowdcounter_final(file: Path) -> list[Row]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        responses = [(pid, r) for pid, post in data.items() for r in post["counterspeech_post"].values()]
        rows = []
        for pid, r in responses:
            types = [r["type_required"], *r["additional_types"]]
            label = _crowdcounter_label(types, r["type_required"], f"{file}: post {pid}")
            text = _clean(r["counterspeech"])
            if label and text:
                rows.append((text, label, None))
        return rows
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError) as exc:
        raise DataError(f"{file}: expected {{post_id: {{post, counterspeech_post: {{worker: {{type_required, "
                        f"additional_types, counterspeech}}}}}}}} ({type(exc).__name__}: {exc})") from None


def _davidson(file: Path, split: str | None) -> list[Row]:
    df = _read_table(file, ("count", "neither", "class", "tweet"))
    rows = []
    for i, rec in enumerate(df.to_dict("records"), 1):
        label = DAVIDSON_LABELS.get(_number(rec["class"], file, i, "class"))
        unanimous = _number(rec["neither"], file, i, "neither") == _number(rec["count"], file, i, "count")
        text = _clean(rec["tweet"], unescape=True)
        if label and unanimous and text and not _addressed("davidson", text):
            rows.append((text, label, split))
    return rows


def tydip_band(score: float) -> str:
    """TyDiP politeness score -> 'polite' / 'impolite' / 'strongly_impolite' (the keys of TYDIP_LABELS)."""
    if score >= 0:
        return "polite"
    return "strongly_impolite" if score <= TYDIP_STRONGLY_IMPOLITE else "impolite"


def _tydip(file: Path, split: str | None) -> list[Row]:
    df = _read_table(file, ("sentence", "score"))
    rows = []
    for i, rec in enumerate(df.to_dict("records"), 1):
        label = TYDIP_LABELS[tydip_band(_number(rec["score"], file, i, "score", float))]
        text = _clean(rec["sentence"])
        if label and text:  # requests address someone by design: no second-person filter here
            rows.append((text, label, split))
    return rows


def _positive_frames(file: Path, split: str | None) -> list[Row]:
    df = _read_table(file, POSITIVE_FRAMES_LABELS)
    rows = []
    for rec in df.to_dict("records"):
        for col, label in POSITIVE_FRAMES_LABELS.items():
            text = _clean(rec[col])
            if label and text and not _addressed(f"positive_frames:{col}", text):
                rows.append((text, label, split))
    return rows


def _reddit_counterspeech(file: Path, split: str | None) -> list[Row]:
    df = _read_table(file, ("id", "subreddit", "parent", "reply", "label"))
    rows = []
    for i, rec in enumerate(df.to_dict("records"), 1):
        code = _number(rec["label"], file, i, "label")
        if code not in REDDIT_COUNTERSPEECH_LABELS:
            raise DataError(f"{file}: data row {i}: label {code} not in {list(REDDIT_COUNTERSPEECH_LABELS)}")
        label = REDDIT_COUNTERSPEECH_LABELS[code]
        text = _clean(rec["reply"], unescape=True)  # the label describes the reply, not the parent
        if label and text and not _addressed("reddit_counterspeech", text):
            rows.append((text, label, split))
    return rows


READERS: dict[str, Callable[[Path, str | None], list[Row]]] = {
    "paradetox": _paradetox,
    "crowdcounter": _crowdcounter,
    "davidson": _davidson,
    "tydip": _tydip,
    "positive_frames": _positive_frames,
    "reddit_counterspeech": _reddit_counterspeech,
}


# --- De-duplication -----------------------------------------------------------------------------------------


def _dedupe(rows: list[Row]) -> list[Row]:
    """Keep the first copy of each text; a text seen with two different labels is dropped entirely."""
    labels: dict[str, set[str]] = {}
    for text, label, _ in rows:
        labels.setdefault(text, set()).add(label)
    seen: set[str] = set()
    out = []
    for text, label, split in rows:
        if len(labels[text]) == 1 and text not in seen:
            seen.add(text)
            out.append((text, label, split))
    return out


def _dedupe_pairs(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in pairs:
        key = (p["call_out"], p["call_in"])
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
