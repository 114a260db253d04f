"""`callinkit score --engine ray`: the local engine's rows and summary on a local Ray, and an actor killed
mid-run. Skipped when Ray (callinkit[ray]) is not installed; the install hint is tested in test_score.py."""

from __future__ import annotations

import json
import os

import pytest
from conftest import fixture_texts

from callinkit import Classifier
from callinkit.errors import DataError
from callinkit.serve.score import score_file

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")

from callinkit.serve.score_ray import BatchScorer, score_file_ray  # noqa: E402

WORKERS = 2
pytestmark = pytest.mark.ray  # ~70 s on 2 cores; deselect with -m "not ray"


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module: two actors and one CPU for reading and writing (score_file_ray reuses a
    running Ray and leaves it up)."""
    ray.init(num_cpus=WORKERS + 1, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def write_messages(path, n, bad=False):
    """n short texts with ids m0..m{n-1}; with bad, two more rows that cannot be scored."""
    texts = fixture_texts()
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"msg_id": f"m{i}", "body": f"{texts[i % len(texts)][:40]} #{i}"}) + "\n")
        if bad:
            fh.write(json.dumps({"msg_id": "no-text", "other": "x"}) + "\n")
            fh.write(json.dumps({"msg_id": "number", "body": 7}) + "\n")
    return path


def read_folder(path):
    """Every row Ray wrote into the OUTPUT folder, by id (asserting no id is there twice)."""
    rows = pq.read_table(path).to_pylist()
    by_id = {r["id"]: r for r in rows}
    assert len(by_id) == len(rows), "an id was written more than once"
    return by_id


def test_ray_engine_matches_the_local_engine_row_for_row(local_ray, tiny_bundle, tmp_path):
    src = write_messages(tmp_path / "in.jsonl", 50_000, bad=True)
    local = score_file(src, tmp_path / "local.parquet", Classifier.load(tiny_bundle), text_column="body",
                       id_column="msg_id", batch_size=256, progress=False)
    distributed = score_file_ray(src, tmp_path / "ray.parquet", bundle=tiny_bundle, text_column="body",
                                 id_column="msg_id", batch_size=256, workers=WORKERS, progress=False)
    want = {r["id"]: r for r in pq.read_table(tmp_path / "local.parquet").to_pylist()}
    got = read_folder(tmp_path / "ray.parquet")
    assert (tmp_path / "ray.parquet").is_dir() and len(list((tmp_path / "ray.parquet").glob("*.parquet"))) >= 2
    assert set(got) == {f"m{i}" for i in range(50_000)} == set(want)
    assert set(next(iter(got.values()))) == set(next(iter(want.values())))  # the same columns
    for rid, row in got.items():
        assert row["label"] == want[rid]["label"] and row["uncertain"] == want[rid]["uncertain"], rid
        assert json.loads(row["scores"]) == pytest.approx(json.loads(want[rid]["scores"]), abs=1e-5), rid
    assert distributed.rows == local.rows == 50_002 and distributed.scored == local.scored == 50_000
    assert distributed.labels == local.labels and distributed.uncertain == local.uncertain
    # By id (Ray's rows have no number); a missing key is a null in Ray's columns, hence "no 'body' value".
    assert len(local.bad) == 2 and sorted(distributed.bad) == [("no-text", "no 'body' value"),
                                                               ("number", "'body' is int, not text")]


def test_a_killed_actor_is_restarted_and_every_row_written_once(local_ray, tiny_bundle, tmp_path):
    marker = tmp_path / "killed-once"

    class DiesOnce(BatchScorer):
        """Kills its own process the first time it sees the batch holding m2500 (the marker file makes the
        retry, on the restarted actor, go through)."""

        def __call__(self, batch):
            if "m2500" in batch["id" if "id" in batch.column_names else "msg_id"].to_pylist() \
                    and not marker.exists():
                marker.write_text(str(os.getpid()))
                os._exit(1)
            return super().__call__(batch)

    src = write_messages(tmp_path / "in.jsonl", 5_000)
    summary = score_file_ray(src, tmp_path / "out.jsonl", bundle=tiny_bundle, text_column="body",
                             id_column="msg_id", batch_size=100, workers=WORKERS, progress=False, scorer=DiesOnce)
    assert marker.exists()  # an actor really died mid-run
    rows = [json.loads(line) for f in sorted((tmp_path / "out.jsonl").glob("*.json*"))
            for line in f.read_text().splitlines()]
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 5_000 and set(ids) == {f"m{i}" for i in range(5_000)}
    assert all(r["label"] in ("call_out", "call_in", "neutral") and set(r["scores"]) == {"call_out", "call_in",
                                                                                     "neutral"} for r in rows)
    assert summary.scored == 5_000 and sum(summary.labels.values()) == 5_000


def test_ray_engine_refuses_what_it_cannot_do(local_ray, tiny_bundle, tmp_path):
    src = write_messages(tmp_path / "in.jsonl", 10)
    (tmp_path / "taken.parquet").mkdir()
    (tmp_path / "taken.parquet" / "part-0.parquet").write_bytes(b"old")
    with pytest.raises(DataError, match="needs --id-column"):
        score_file_ray(src, tmp_path / "o.parquet", bundle=tiny_bundle, text_column="body", progress=False)
    with pytest.raises(DataError, match="already exists"):
        score_file_ray(src, tmp_path / "taken.parquet", bundle=tiny_bundle, id_column="msg_id", progress=False)
    with pytest.raises(DataError, match="needs rewrite=True"):
        score_file_ray(src, tmp_path / "o.parquet", bundle=tiny_bundle, id_column="msg_id", min_logprob=-0.6,
                       progress=False)
    with pytest.raises(DataError, match="must be a number <= 0"):
        score_file_ray(src, tmp_path / "o.parquet", bundle=tiny_bundle, id_column="msg_id", rewrite=True,
                       min_logprob=1.0, progress=False)
    with pytest.raises(DataError, match="min_logprob_tail sets the rewriter's floor"):
        score_file_ray(src, tmp_path / "o.parquet", bundle=tiny_bundle, id_column="msg_id", min_logprob_tail=-2.0,
                       progress=False)
    with pytest.raises(DataError, match="min_logprob_tail must be a number <= 0"):
        score_file_ray(src, tmp_path / "o.parquet", bundle=tiny_bundle, id_column="msg_id", rewrite=True,
                       min_logprob_tail=0.5, progress=False)
    from callinkit.errors import CallinkitError

    with pytest.raises(CallinkitError, match="--workers 2"):
        score_file_ray(src, tmp_path / "o.parquet", bundle=tiny_bundle, text_column="body", id_column="msg_id",
                       workers=5, progress=False)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"msg_id": "a", "body": "fine"}\n{broken\n')
    with pytest.raises(DataError, match="could not read .*--engine local"):
        score_file_ray(broken, tmp_path / "b.parquet", bundle=tiny_bundle, text_column="body", id_column="msg_id",
                       workers=1, progress=False)
