"""Score a file of messages: `callinkit score INPUT OUTPUT`.

Streams a JSONL, CSV/TSV or Parquet file in batches (constant memory), classifies every text (optionally
explains it, and rewrites the call-outs), and appends one output row per input row: its id, label, scores and
`uncertain` flag. A killed run continues with `--resume`: ids already in OUTPUT are skipped. Rows that cannot
be scored (no text column, a text that is not a string) are counted and listed in the summary, never silently
dropped, and never stop a long job.

Torch-free: one process, onnxruntime's threads. `score_batch` is the per-batch function an engine that spreads
batches over processes or machines would call.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callinkit.errors import DataError

# Rows read, scored and written together when the caller does not say. The classifier runs them in length-sorted
# batches of its own batch_size, so a larger chunk pads less: on 6,000 corpus texts, 512 scored 435 messages/s
# against 309 for 64 (2-core CPU, session 9). With a rewriter the default is 64 (each row may cost a generation).
DEFAULT_BATCH_SIZE = 512
REWRITE_BATCH_SIZE = 64
# With a rewriter, each output row has these: the call-in (null when withheld or when the text is no call-out),
# why it was withheld, and the same reasons as stable codes (callinkit.guard.PROBLEM_CODES).
REWRITE_FIELDS = ("rewrite", "rewrite_reason", "rewrite_reason_codes")


def resolve_batch_size(batch_size: int | None, rewriting: bool) -> int:
    """The caller's batch size, else the default for the job; DataError when it is below 1. Shared by the local
    and the Ray engines."""
    if batch_size is None:
        return REWRITE_BATCH_SIZE if rewriting else DEFAULT_BATCH_SIZE
    if batch_size < 1:
        raise DataError(f"batch size must be at least 1, got {batch_size}")
    return batch_size

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use .jsonl, .csv, .tsv or .parquet")
    return fmt


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise DataError("Parquet files need pyarrow: pip install pyarrow (or callinkit[ray])") from None
    return pyarrow


def count_rows(path: Path) -> int | None:
    """Rows in the input (for the progress bar), cheaply; None when unknown."""
    fmt = file_format(path)
    if fmt == "parquet":
        return _pyarrow().parquet.ParquetFile(path).metadata.num_rows
    with path.open("rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return max(0, lines - (1 if fmt in ("csv", "tsv") else 0))


def iter_batches(path: Path, batch_size: int) -> Iterator[list[tuple[int, dict[str, Any] | None, str | None]]]:
    """Batches of (row number, row or None, problem or None), streaming: one batch in memory at a time."""
    fmt = file_format(path)
    if not path.is_file():
        raise DataError(f"input file not found: {path}")
    batch: list[tuple[int, dict[str, Any] | None, str | None]] = []

    def rows() -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
        if fmt == "parquet":
            pq = _pyarrow().parquet.ParquetFile(path)
            number = 0
            for record_batch in pq.iter_batches(batch_size=batch_size):
                for row in record_batch.to_pylist():
                    number += 1
                    yield number, row, None
        elif fmt == "jsonl":
            with path.open(encoding="utf-8", errors="replace") as fh:
                for number, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError as exc:
                        yield number, None, f"not valid JSON ({exc.msg})"
                        continue
                    yield (number, obj, None) if isinstance(obj, dict) else (number, None, "not a JSON object")
        else:
            with path.open(encoding="utf-8", errors="replace", newline="") as fh:
                reader = csv.DictReader(fh, delimiter="\t" if fmt == "tsv" else ",")
                for row in reader:
                    yield reader.line_num, row, None

    for item in rows():
        batch.append(item)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


class OutputWriter:
    """Appends scored rows to a .jsonl/.csv/.tsv file (flushed per batch, so a kill loses at most the batch
    being written), or writes a .parquet file (no --resume: Parquet files cannot be appended to)."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path, self.fmt = path, file_format(path)
        self._csv_writer = None
        self._parquet = None
        if self.fmt == "parquet":
            if resume:
                raise DataError(f"{path}: --resume needs a .jsonl or .csv output (a Parquet file cannot be appended to)")
            self._fh = None
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = path.open("a" if resume else "w", encoding="utf-8", newline="")
        self._fields: list[str] | None = None

    def write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.fmt == "jsonl":
            self._fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            self._fh.flush()
        elif self.fmt in ("csv", "tsv"):
            flat = [{k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v) for k, v in r.items()}
                    for r in rows]
            if self._csv_writer is None:
                self._fields = list(flat[0])
                self._csv_writer = csv.DictWriter(self._fh, fieldnames=self._fields, extrasaction="ignore",
                                                  delimiter="\t" if self.fmt == "tsv" else ",")
                if self._fh.tell() == 0:
                    self._csv_writer.writeheader()
            self._csv_writer.writerows(flat)
            self._fh.flush()
        else:
            pa = _pyarrow()
            table = pa.Table.from_pylist([{k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v)
                                           for k, v in r.items()} for r in rows])
            if self._parquet is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # a column null in every row of the first batch (no call-out to rewrite yet) is text: flattened
                # values are strings, numbers or flags, and a null type would refuse the later batches' text
                schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema])
                self._parquet = pa.parquet.ParquetWriter(self.path, schema)
            self._parquet.write_table(table.cast(self._parquet.schema))

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        if self._parquet is not None:
            self._parquet.close()


def done_ids(path: Path) -> set[str]:
    """Ids already in an output file (for --resume). A last line cut off by a kill is removed first."""
    if not path.is_file():
        return set()
    fmt = file_format(path)
    if fmt == "parquet":
        raise DataError(f"{path}: --resume needs a .jsonl or .csv output (a Parquet file cannot be appended to)")
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):  # a partial last row: drop it, it is scored again
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as fh:
            fh.truncate(cut)
        data = data[:cut]
    text = data.decode("utf-8", errors="replace")
    if fmt == "jsonl":
        return {str(json.loads(line)["id"]) for line in text.splitlines() if line.strip()}
    reader = csv.DictReader(text.splitlines(), delimiter="\t" if fmt == "tsv" else ",")
    return {row["id"] for row in reader}


@dataclass
class ScoreSummary:
    rows: int = 0
    scored: int = 0
    resumed: int = 0
    labels: Counter = field(default_factory=Counter)
    uncertain: int = 0
    rewritten: int = 0
    abstained: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.scored / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "scored": self.scored, "skipped_already_done": self.resumed,
                "labels": dict(self.labels), "uncertain": self.uncertain, "rewritten": self.rewritten,
                "abstained": self.abstained, "bad_rows": len(self.bad),
                "bad_examples": [{"row": n, "problem": p} for n, p in self.bad[:10]],
                "seconds": round(self.seconds, 2), "messages_per_second": round(self.per_second, 1)}

    def report(self) -> str:
        labels = ", ".join(f"{k} {v:,}" for k, v in sorted(self.labels.items()))
        lines = [f"scored {self.scored:,} of {self.rows:,} rows in {self.seconds:.1f} s "
                 f"({self.per_second:,.0f} messages/s): {labels or 'none'}; {self.uncertain:,} uncertain"]
        if self.resumed:
            lines.append(f"skipped {self.resumed:,} rows already in the output (--resume)")
        if self.rewritten or self.abstained:
            lines.append(f"rewrote {self.rewritten:,} call-outs; no suggestion for {self.abstained:,} (the guard refused "
                         "every candidate)")
        if self.bad:
            shown = "; ".join(f"row {n}: {p}" for n, p in self.bad[:5])
            lines.append(f"{len(self.bad):,} rows could not be scored and are not in the output ({shown}"
                         + (" ..." if len(self.bad) > 5 else "") + ")")
        return "\n".join(lines)


def score_batch(texts: list[str], classifier, explain: bool = False, rewriter=None,
                num_candidates: int | None = None) -> list[dict[str, Any]]:
    """The output fields of each text (label, scores, uncertain; spans with explain; the rewrite of each
    call-out with a rewriter). Shared by the local and the Ray engines."""
    if explain:
        explanations = classifier.explain(texts)
        results = [{**e.prediction.to_dict(), "spans": [s.to_dict() for s in e.spans]} for e in explanations]
    else:
        results = [p.to_dict() for p in classifier.predict(texts)]
    if rewriter is not None:
        # Every row gets the rewrite fields (null where the text is no call-out), so a CSV or Parquet output,
        # whose columns come from the first rows written, never loses them.
        for r in results:
            r.update(dict.fromkeys(REWRITE_FIELDS))
        call_outs = [i for i, r in enumerate(results) if r["label"] == "call_out"]
        if call_outs:
            rewrites = rewriter.rewrite([texts[i] for i in call_outs], num_candidates=num_candidates)
            for i, rw in zip(call_outs, rewrites):
                results[i].update({"rewrite": rw.text, "rewrite_reason": rw.reason,
                                   "rewrite_reason_codes": list(getattr(rw, "reason_codes", ())) if rw.reason else None})
    return results


def score_file(input_path: str | Path, output_path: str | Path, classifier, text_column: str = "text",
               id_column: str | None = None, explain: bool = False, rewriter=None, batch_size: int | None = None,
               resume: bool = False, keep_text: bool = False, progress: bool = True) -> ScoreSummary:
    """Score INPUT into OUTPUT (see the module docstring). Each output row has `id` (the id column's value,
    else the input row number), then label, scores, uncertain, and the optional fields."""
    input_path, output_path = Path(input_path), Path(output_path)
    if input_path.resolve() == output_path.resolve():
        raise DataError(f"{output_path}: the output would overwrite the input; choose another file")
    batch_size = resolve_batch_size(batch_size, rewriting=rewriter is not None)
    file_format(output_path)
    already = done_ids(output_path) if resume else set()
    writer = OutputWriter(output_path, resume)
    summary = ScoreSummary()
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=count_rows(input_path), unit="msg", desc=f"scoring {input_path.name}")
        except ImportError:
            bar = None
    started = time.perf_counter()
    try:
        for batch in iter_batches(input_path, batch_size):
            todo: list[tuple[str, str]] = []
            for number, row, problem in batch:
                summary.rows += 1
                if problem is None and text_column not in row:
                    problem = f"no {text_column!r} column (found {sorted(row)[:8]}); pass --text-column"
                if problem is None and not isinstance(row[text_column], str):
                    problem = f"{text_column!r} is {type(row[text_column]).__name__}, not text"
                if problem is None and id_column is not None and row.get(id_column) in (None, ""):
                    problem = f"no {id_column!r} value"
                if problem is not None:
                    summary.bad.append((number, problem))
                    continue
                rid = str(row[id_column]) if id_column is not None else str(number)
                if rid in already:
                    summary.resumed += 1
                    continue
                todo.append((rid, row[text_column]))
            if todo:
                results = score_batch([t for _, t in todo], classifier, explain, rewriter)
                out = []
                for (rid, text), res in zip(todo, results):
                    summary.labels[res["label"]] += 1
                    summary.uncertain += bool(res.get("uncertain"))
                    if "rewrite" in res and res["label"] == "call_out":
                        summary.rewritten += res["rewrite"] is not None
                        summary.abstained += res["rewrite"] is None
                    out.append({"id": rid, **({"text": text} if keep_text else {}), **res})
                writer.write(out)
                summary.scored += len(out)
            if bar is not None:
                bar.update(len(batch))
    finally:
        writer.close()
        if bar is not None:
            bar.close()
        summary.seconds = time.perf_counter() - started
    return summary
