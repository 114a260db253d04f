"""`callinkit score INPUT OUTPUT --engine ray`: the local engine's scoring on Ray Data, over processes or machines.

Ray reads INPUT in blocks (`read_json` / `read_csv` / `read_parquet`; on a cluster INPUT must be a path every
node can read: a shared folder, s3://, gs://), a pool of `--workers` actors, each holding one Classifier (and
Rewriter with --rewrite), scores batches with the local engine's `score_batch`, and Ray writes OUTPUT as a
folder of part files in OUTPUT's format (`out.parquet/`, `out.jsonl/`, `out.csv/`). Output columns and the
summary are the local engine's, with the differences that parallel reading brings: rows have no row number, so
--id-column is required and a bad row is reported by its id; a line that is not JSON stops the run (Ray's
reader cannot skip it; the local engine can); --resume is not supported (write into a new folder).

A dead actor (a lost machine, an out-of-memory kill) is restarted and its batch retried by Ray: Ray Data's
actor pools default to `max_restarts=-1, max_task_retries=-1` (tests/test_score_ray.py kills one). The
scored rows are materialized before they are written, so a retried batch is written once. Ray is the
optional extra `callinkit[ray]`, imported only here.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from callinkit.errors import CallinkitError, DataError
from callinkit.serve.score import ScoreSummary, file_format, resolve_batch_size, score_batch

# The column that marks a row that could not be scored (dropped before writing, counted in the summary).
PROBLEM = "_problem"
SUMMARY_COLUMNS = ("label", "uncertain", "rewrite", PROBLEM)


def _ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise CallinkitError("--engine ray needs Ray: pip install 'callinkit[ray]' (or use --engine local)") from None
    return ray


class BatchScorer:
    """What `map_batches` runs: one actor loads the models once, then scores pyarrow batches into output rows
    (the local engine's fields) plus the `_problem` column, null where the row was scored."""

    def __init__(self, bundle: str | None, rewriter_bundle: str | None, rewrite: bool, text_column: str,
                 id_column: str, explain: bool, keep_text: bool, nested: bool, device: str = "cpu",
                 threads: int = 1, min_logprob: float | None = None,
                 min_logprob_tail: float | None = None) -> None:
        from callinkit.serve import Classifier

        self.classifier = Classifier.load(bundle, device=device, threads=threads)
        self.rewriter = None
        if rewrite:
            from callinkit.serve import Rewriter

            self.rewriter = Rewriter.load(rewriter_bundle, device=device, classifier=self.classifier,
                                          threads=threads, min_logprob=min_logprob,
                                          min_logprob_tail=min_logprob_tail)
        self.text_column, self.id_column = text_column, id_column
        self.explain, self.keep_text, self.nested = explain, keep_text, nested

    def __call__(self, batch: Any) -> Any:
        import pyarrow as pa

        rows = batch.to_pylist()
        out: list[dict[str, Any]] = []
        todo: list[int] = []
        for row in rows:
            rid, text = row.get(self.id_column), row.get(self.text_column)
            problem = None
            if self.text_column not in row:
                problem = f"no {self.text_column!r} column (found {sorted(row)[:8]}); pass --text-column"
            elif text is None or (isinstance(text, float) and math.isnan(text)):  # JSON's missing key, in columns
                problem = f"no {self.text_column!r} value"
            elif not isinstance(text, str):
                problem = f"{self.text_column!r} is {type(text).__name__}, not text"
            elif rid in (None, ""):
                problem = f"no {self.id_column!r} value"
            out.append({"id": None if rid in (None, "") else str(rid), PROBLEM: problem})
            if problem is None:
                todo.append(len(out) - 1)
                if self.keep_text:
                    out[-1]["text"] = text
        if todo:
            results = score_batch([rows[i][self.text_column] for i in todo], self.classifier, self.explain,
                                  self.rewriter)
            for i, result in zip(todo, results):
                out[i].update(result if self.nested else
                              {k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                               for k, v in result.items()})
        columns = list(dict.fromkeys(k for r in out for k in r))  # every row gets every column (None if absent)
        table = pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in out])
        # Columns that may be all null in one batch are typed, so every part file has the same schema.
        typed = {PROBLEM: pa.string(), "rewrite": pa.string(), "rewrite_reason": pa.string(),
                 "rewrite_reason_codes": pa.list_(pa.string()) if self.nested else pa.string()}
        for name, kind in typed.items():
            if name in table.column_names:
                table = table.set_column(table.schema.get_field_index(name), name,
                                         pa.array([r.get(name) for r in out], type=kind))
        return table


def _read(ray: Any, path: str, fmt: str, text_column: str, id_column: str) -> Any:
    if fmt == "jsonl":
        return ray.data.read_json(path, lines=True)
    if fmt in ("csv", "tsv"):
        import pyarrow as pa
        from pyarrow import csv

        # The text and id stay text, as in the local engine (no inference turning "7" into a number).
        return ray.data.read_csv(path, parse_options=csv.ParseOptions(delimiter="\t" if fmt == "tsv" else ","),
                                 convert_options=csv.ConvertOptions(
                                     column_types={text_column: pa.string(), id_column: pa.string()}),
                                 file_extensions=None)
    return ray.data.read_parquet(path)


def _write(dataset: Any, path: str, fmt: str) -> None:
    if fmt == "jsonl":
        dataset.write_json(path, force_ascii=False)
    elif fmt in ("csv", "tsv"):
        from pyarrow import csv

        dataset.write_csv(path, arrow_csv_args_fn=lambda: {"write_options": csv.WriteOptions(
            delimiter="\t" if fmt == "tsv" else ",")})
    else:
        dataset.write_parquet(path)


def _workers(ray: Any, workers: int | None) -> int:
    """Actors to start: --workers, else all but one of the cluster's CPUs (one is left for reading and
    writing: with every CPU held by an actor, Ray's read tasks never run)."""
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if workers is None:
        return max(1, cpus - 1)
    if workers >= cpus:
        raise CallinkitError(f"--workers {workers} needs {workers + 1} CPUs (one per worker, one for reading and "
                             f"writing); this Ray cluster has {cpus}. Use --workers {max(1, cpus - 1)}")
    return workers


def score_file_ray(input_path: str | Path, output_path: str | Path, *, bundle: str | None = None,
                   rewriter_bundle: str | None = None, rewrite: bool = False, text_column: str = "text",
                   id_column: str | None = None, explain: bool = False, batch_size: int | None = None,
                   keep_text: bool = False, device: str = "cpu", address: str | None = None,
                   workers: int | None = None, progress: bool = True,
                   scorer: type[BatchScorer] = BatchScorer, min_logprob: float | None = None,
                   min_logprob_tail: float | None = None) -> ScoreSummary:
    """Score INPUT into the folder OUTPUT on Ray (see the module docstring). Without `address`, Ray starts
    here with `workers` + 1 CPUs (default: this machine's); `scorer` is the class each actor runs. Raises
    CallinkitError when Ray is not installed or an option cannot work, DataError for unreadable input."""
    if id_column is None:
        raise DataError("--engine ray needs --id-column: Ray reads the file in parallel blocks, so rows have no "
                        "row number to use as their id")
    batch_size = resolve_batch_size(batch_size, rewriting=rewrite)
    floors = {"min_logprob": min_logprob, "min_logprob_tail": min_logprob_tail}
    given = [name for name, floor in floors.items() if floor is not None]
    if given:  # checked here, not first in every actor
        if not rewrite:
            raise DataError(f"{given[0]} sets the rewriter's floor: it needs rewrite=True (--rewrite)")
        from callinkit.serve.rewriter import bundle_architecture
        from callinkit.serve.runtime import resolve_bundle

        try:
            bundle_architecture(resolve_bundle("rewriter", rewriter_bundle), floors)
        except ValueError as exc:
            raise DataError(str(exc)) from None
    if workers is not None and workers < 1:
        raise DataError(f"--workers must be at least 1, got {workers}")
    in_fmt, out_fmt = file_format(Path(input_path)), file_format(Path(output_path))
    output = Path(output_path)
    if "://" not in str(input_path) and not Path(input_path).exists():
        raise DataError(f"input file not found: {input_path}")
    if output.exists() and (output.is_file() or any(output.iterdir())):
        raise DataError(f"{output} already exists; Ray writes OUTPUT as a folder of part files and would mix old "
                        "and new rows: remove it or choose another path")
    ray = _ray()
    started_here = False
    if not ray.is_initialized():
        if address is not None:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=(workers if workers is not None else max(1, (os.cpu_count() or 2) - 1)) + 1,
                     include_dashboard=False, log_to_driver=False)
        started_here = True
    try:
        return _run(ray, str(input_path), str(output), in_fmt, out_fmt, _workers(ray, workers), scorer,
                    {"bundle": str(bundle) if bundle else None,
                     "rewriter_bundle": str(rewriter_bundle) if rewriter_bundle else None, "rewrite": rewrite,
                     "text_column": text_column, "id_column": id_column, "explain": explain,
                     "keep_text": keep_text, "nested": out_fmt == "jsonl", "device": device,
                     "min_logprob": min_logprob, "min_logprob_tail": min_logprob_tail},
                    batch_size, progress)
    finally:
        if started_here:
            ray.shutdown()


def _run(ray: Any, input_path: str, output_path: str, in_fmt: str, out_fmt: str, workers: int,
         scorer: type[BatchScorer], scorer_kwargs: dict[str, Any], batch_size: int, progress: bool) -> ScoreSummary:
    ray.data.DataContext.get_current().enable_progress_bars = progress
    started = time.perf_counter()
    try:
        scored = _read(ray, input_path, in_fmt, scorer_kwargs["text_column"], scorer_kwargs["id_column"]).map_batches(
            scorer, fn_constructor_kwargs=scorer_kwargs, batch_format="pyarrow", batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1,
            num_gpus=1 if scorer_kwargs["device"] == "cuda" else 0).materialize()
    except ray.exceptions.RayTaskError as exc:
        if "ray::Read" in str(exc).split("\n", 1)[0]:  # the failed task was a read, not a batch
            raise DataError(f"Ray could not read {input_path}: {exc.cause!r}. Fix the file, or score it with "
                            "--engine local, which lists bad lines by number and goes on") from None
        raise
    summary = _summarize(scored)
    _write(scored.map_batches(_drop_bad_rows, batch_format="pyarrow"), output_path, out_fmt)
    summary.seconds = time.perf_counter() - started
    return summary


def _drop_bad_rows(table: Any) -> Any:
    import pyarrow.compute as pc

    return table.filter(pc.is_null(table[PROBLEM])).drop_columns([PROBLEM])


def _summarize(scored: Any) -> ScoreSummary:
    """The local engine's counts, from the small columns of the scored rows (read on the driver)."""
    import pyarrow.compute as pc

    summary = ScoreSummary()
    for table in scored.iter_batches(batch_format="pyarrow", batch_size=None):
        table = table.select([c for c in SUMMARY_COLUMNS + ("id",) if c in table.column_names])
        summary.rows += table.num_rows
        bad = table.filter(pc.is_valid(table[PROBLEM]))
        summary.bad += [(rid, problem) for rid, problem in zip(bad["id"].to_pylist(), bad[PROBLEM].to_pylist())]
        good = table.filter(pc.is_null(table[PROBLEM]))
        summary.scored += good.num_rows
        for item in pc.value_counts(good["label"]).to_pylist() if good.num_rows else []:
            summary.labels[item["values"]] += item["counts"]
        summary.uncertain += int(pc.sum(pc.cast(good["uncertain"], "int64")).as_py() or 0) if good.num_rows else 0
        if "rewrite" in good.column_names and good.num_rows:
            call_outs = good.filter(pc.equal(good["label"], "call_out"))
            summary.rewritten += int(pc.sum(pc.cast(pc.is_valid(call_outs["rewrite"]), "int64")).as_py() or 0)
            summary.abstained += int(pc.sum(pc.cast(pc.is_null(call_outs["rewrite"]), "int64")).as_py() or 0)
    return summary
