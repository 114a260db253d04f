"""Data sources for training: the embedded corpus, local JSONL/CSV files, hub datasets and public proxies.

Every source becomes rows `{text, label, source, unseen_topic, split}`; sources without their own splits
are split with the configured fractions (seeded); `weight` scales a source's training rows (0.5 keeps a
random half, 2.0 repeats it twice). The result is a `datasets.DatasetDict` with train / validation / test.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from callinkit.config import DataConfig, SourceConfig
from callinkit.errors import DataError

SPLIT_ALIASES = {"train": "train", "validation": "validation", "valid": "validation", "val": "validation",
                 "dev": "validation", "test": "test"}

Task = Literal["classification", "pairs"]

# Corpus rows that `threat_weight` scales: threat call-outs and the neutral texts that only sound like one.
THREAT_STYLES = ("threat", "threat_near_miss")


def read_table(path: Path) -> list[dict[str, Any]]:
    """Rows of a local .jsonl / .json / .csv / .tsv file, as dicts. Errors name the file and line."""
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        from callinkit.corpus import parse_jsonl

        return [rec.data for rec in parse_jsonl(path.read_text(encoding="utf-8"), "file", str(path))]
    if suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
    raise DataError(f"{path}: unsupported file type {suffix!r}; use .jsonl, .csv or .tsv")


MAX_PROBLEMS_SHOWN = 20


def _decoded_lines(path: Path) -> tuple[list[str], list[tuple[int, str]]]:
    """The file's lines decoded as UTF-8, and (line, problem) for each line that is not UTF-8 (kept as '')."""
    lines, problems = [], []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), 1):
        try:
            lines.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as exc:
            problems.append((number, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                                     "re-save the file as UTF-8"))
            lines.append("")
    return lines, problems


def _raw_records(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[tuple[int, str]]]:
    """(line, row) of a local .jsonl/.json/.csv/.tsv file, and (line, problem) for lines that cannot be read."""
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".json", ".csv", ".tsv"):
        raise DataError(f"{path}: unsupported file type {suffix!r}; use .jsonl, .csv or .tsv")
    lines, problems = _decoded_lines(path)
    rows: list[tuple[int, dict[str, Any]]] = []
    if suffix in (".jsonl", ".json"):
        import json

        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append((number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
                continue
            if not isinstance(obj, dict):
                problems.append((number, f"expected a JSON object, got {type(obj).__name__}"))
                continue
            rows.append((number, obj))
    else:
        reader = csv.DictReader(lines, delimiter="\t" if suffix == ".tsv" else ",")
        for row in reader:
            if None in row:  # more cells than the header has columns
                problems.append((reader.line_num, f"{len(row) - 1 + len(row[None])} cells for "
                                                  f"{len(reader.fieldnames or ())} columns"))
                continue
            rows.append((reader.line_num, row))
    return rows, problems


def _file_rows(src: SourceConfig, task: Task, on_error: str = "raise") -> list[dict[str, Any]]:
    """Rows of a local file source, each checked: every problem is reported with file and line; with
    on_error 'raise' (default) training stops, with 'skip' the bad rows are dropped (and still reported)."""
    from callinkit.config import LABELS

    path = Path(src.path or "")
    raw, problems = _raw_records(path)
    n_lines = len(raw) + len(problems)  # rows read plus lines that could not be read as rows
    out = []
    fields = (src.text_field, src.label_field) if task == "classification" else ("call_out", "call_in")
    seen_ids: dict[str, int] = {}
    for number, row in raw:
        missing = [f for f in fields if f not in row]
        if missing:
            problems.append((number, f"no {', '.join(repr(m) for m in missing)} column; found {sorted(row)} (set "
                                     "text_field / label_field in the source config)"))
            continue
        empty = [f for f in fields if not str(row[f] if row[f] is not None else "").strip()]
        if empty:
            problems.append((number, f"empty {', '.join(repr(f) for f in empty)}"))
            continue
        if task == "classification" and str(row[src.label_field]) not in LABELS:
            problems.append((number, f"unknown label {row[src.label_field]!r}; expected one of {list(LABELS)}"))
            continue
        if row.get("id") not in (None, ""):
            rid = str(row["id"])
            if rid in seen_ids:
                problems.append((number, f"id {rid!r} repeats line {seen_ids[rid]}"))
                continue
            seen_ids[rid] = number
        split = row.get("split")
        if split not in (None, ""):
            if str(split) not in SPLIT_ALIASES:
                problems.append((number, f"split {split!r}; use train, validation or test"))
                continue
            split = SPLIT_ALIASES[str(split)]
        else:
            split = None
        if task == "classification":
            out.append({"text": str(row[src.text_field]), "label": str(row[src.label_field]), "split": split,
                        "unseen_topic": bool(row.get("unseen_topic", False))})
        else:
            out.append({"call_out": str(row["call_out"]), "call_in": str(row["call_in"]), "split": split,
                        "unseen_topic": bool(row.get("unseen_topic", False))})
    if problems:
        problems.sort()
        listed = "\n".join(f"  {path}:{n}: {msg}" for n, msg in problems[:MAX_PROBLEMS_SHOWN])
        more = f"\n  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more" if len(problems) > MAX_PROBLEMS_SHOWN else ""
        if on_error != "skip":
            raise DataError(f"{path}: {len(problems)} bad row(s); fix them, or set data.on_error: skip to train "
                            f"without them:\n{listed}{more}")
        print(f"warning: {path}: skipped {len(problems)} bad row(s) of {n_lines} "
              f"(data.on_error: skip):\n{listed}{more}")
    return out


def _hub_rows(src: SourceConfig, task: Task) -> list[dict[str, Any]]:
    import datasets

    try:
        dd = datasets.load_dataset(src.path)
    except Exception as exc:  # the hub client raises many types; all mean "could not fetch"
        raise DataError(f"could not load hub dataset {src.path!r} (a network is needed): {exc}") from None
    out = []
    for split_name, ds in dd.items():
        split = SPLIT_ALIASES.get(split_name)
        for row in ds:
            if task == "classification":
                out.append({"text": row[src.text_field], "label": row[src.label_field], "split": split,
                            "unseen_topic": False})
            else:
                out.append({"call_out": row["call_out"], "call_in": row["call_in"], "split": split,
                            "unseen_topic": False})
    return out


def copy_rows(src: SourceConfig) -> list[dict[str, Any]]:
    """Identity pairs (text -> text) from a source's non-hostile texts: teaches the rewriter to copy."""
    if src.name in ("jsonl", "csv"):
        rows = [{"text": r.get(src.text_field) or r.get("call_in"), "split": SPLIT_ALIASES.get(r.get("split") or "")}
                for r in read_table(Path(src.path or ""))]
    else:
        rows = [r for r in source_rows(SourceConfig(name=src.name, path=src.path), "classification")
                if r["label"] in ("neutral", "call_in")]
    return [{"call_out": r["text"], "call_in": r["text"], "split": r["split"],
             "unseen_topic": bool(r.get("unseen_topic")), "source": f"{src.name}:copy"} for r in rows if r["text"]]


def source_rows(src: SourceConfig, task: Task, on_error: str = "raise") -> list[dict[str, Any]]:
    """The rows of one source, each with a `split` (None where the source has none). `on_error` applies to
    local files (see DataConfig.on_error)."""
    if task == "pairs" and src.mode == "copy":
        return copy_rows(src)
    if src.name == "callin_corpus":
        from callinkit.corpus import KINDS, classification_rows, pair_rows, read_records, read_splits

        records = {kind: read_records(kind) for kind in KINDS}
        rows = (classification_rows if task == "classification" else pair_rows)(records, read_splits())
        if task == "pairs":
            # A pair's second reference (another writer's call-in for the same call-out) is one more
            # training example: the rewriter sees that there is more than one good answer.
            rows = rows + [{**r, "call_in": alt} for r in rows for alt in r.get("alt_call_ins", ())]
    elif src.name in ("jsonl", "csv"):
        rows = _file_rows(src, task, on_error)
    elif src.name == "hub":
        rows = _hub_rows(src, task)
    else:
        from callinkit.corpus.proxies import load_proxy

        rows = load_proxy(src.name, src.path, task)
    keep = ("text", "label") if task == "classification" else ("call_out", "call_in")
    # Optional fields a recipe may use: the post a message replies to, and the corpus's slicing keys.
    extra = ("context", "strategy", "style", "topic") if task == "pairs" else ("context", "style")
    return [{**{k: r[k] for k in keep}, **{k: r[k] for k in extra if r.get(k) is not None},
             "split": r.get("split"), "unseen_topic": bool(r.get("unseen_topic")), "source": src.name}
            for r in rows]


def assign_missing_splits(rows: list[dict[str, Any]], validation_fraction: float, test_fraction: float,
                          seed: int) -> None:
    """Give rows without a split one, in place, by a seeded hash of the source text.

    Hashing the source (the text to classify, or the call-out of a pair) keeps every row of one source
    sentence in the same split: ParaDetox's 1-3 paraphrases of a sentence never straddle train and test.
    """
    import hashlib

    for r in rows:
        if r["split"] is not None:
            continue
        key = f"{seed}:{r.get('call_out', r.get('text'))}".encode()
        u = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64
        r["split"] = "validation" if u < validation_fraction else (
            "test" if u < validation_fraction + test_fraction else "train")


def apply_weight(rows: list[dict[str, Any]], weight: float, seed: int) -> list[dict[str, Any]]:
    """Scale training rows: whole repeats for the integer part, a seeded sample for the fraction."""
    whole, frac = int(weight), weight - int(weight)
    out = rows * whole
    if frac:
        out = out + random.Random(seed).sample(rows, round(len(rows) * frac))
    return out


def build_splits(sources: Sequence[SourceConfig], data: DataConfig, task: Task, seed: int) -> dict[str, list]:
    """Rows of every source, split and weighted: {"train": [...], "validation": [...], "test": [...]}."""
    out: dict[str, list] = {"train": [], "validation": [], "test": []}
    for index, src in enumerate(sources):
        rows = source_rows(src, task, data.on_error)
        if not rows:
            raise DataError(f"data source {src.name!r} ({src.path or 'embedded'}) has no rows")
        assign_missing_splits(rows, data.validation_fraction, data.test_fraction, seed)
        train = [r for r in rows if r["split"] == "train"]
        if src.threat_weight != 1.0:
            threat = [r for r in train if r.get("style") in THREAT_STYLES]
            train = [r for r in train if r.get("style") not in THREAT_STYLES] + apply_weight(
                threat, src.threat_weight, seed + 1000 + index)
        out["train"].extend(apply_weight(train, src.weight, seed + index))
        out["validation"].extend(r for r in rows if r["split"] == "validation")
        out["test"].extend(r for r in rows if r["split"] == "test")
    if data.max_train_examples is not None and len(out["train"]) > data.max_train_examples:
        out["train"] = random.Random(seed).sample(out["train"], data.max_train_examples)
    for split, rows in out.items():
        if not rows and split != "test":
            raise DataError(f"no {split} rows after splitting; add data or raise data.validation_fraction")
    return out


def load_classification_data(data: DataConfig, labels: Sequence[str], seed: int):
    """A DatasetDict (train / validation / test) with columns text, label (int id), source, unseen_topic."""
    import datasets

    label_ids = {name: i for i, name in enumerate(labels)}
    splits = build_splits(data.sources, data, "classification", seed)
    out = {}
    for split, rows in splits.items():
        for r in rows:
            label = r["label"]
            if isinstance(label, int) and 0 <= label < len(labels):
                continue
            if label not in label_ids:
                raise DataError(f"source {r['source']!r}: label {label!r} is not one of {list(labels)}")
            r["label"] = label_ids[label]
        cols = ("text", "label", "source", "unseen_topic")
        out[split] = datasets.Dataset.from_dict({c: [r[c] for r in rows] for c in cols})
    return datasets.DatasetDict(out)
