"""`callinkit score`: streaming a file of messages, resuming a killed run, bad rows counted not fatal."""

from __future__ import annotations

import csv
import json

import pytest
from conftest import fixture_texts

from callinkit import Classifier
from callinkit.errors import DataError
from callinkit.serve.score import score_file


def write_input(path, n=150, bad=True):
    texts = fixture_texts()
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"msg_id": f"m{i}", "body": texts[i % len(texts)]}) + "\n")
        if bad:
            fh.write("{broken\n")
            fh.write(json.dumps({"msg_id": "x", "body": 7}) + "\n")
    return path


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scores_every_row_with_the_libraries_labels(tiny_bundle, tmp_path):
    clf = Classifier.load(tiny_bundle)
    src = write_input(tmp_path / "in.jsonl")
    summary = score_file(src, tmp_path / "out.jsonl", clf, text_column="body", id_column="msg_id", batch_size=16,
                         progress=False)
    out = read_jsonl(tmp_path / "out.jsonl")
    texts = fixture_texts()
    expected = clf.predict([texts[i % len(texts)] for i in range(150)])
    assert [r["id"] for r in out] == [f"m{i}" for i in range(150)]
    assert [r["label"] for r in out] == [p.label for p in expected]
    assert summary.scored == 150 and summary.rows == 152 and len(summary.bad) == 2
    assert sum(summary.labels.values()) == 150
    assert "row 151: not valid JSON" in summary.report() and "'body' is int" in summary.report()


def test_resume_after_a_kill_scores_each_row_exactly_once(tiny_bundle, tmp_path):
    clf = Classifier.load(tiny_bundle)
    src = write_input(tmp_path / "in.jsonl", bad=False)
    out = tmp_path / "out.jsonl"
    score_file(src, out, clf, text_column="body", id_column="msg_id", batch_size=16, progress=False)
    full = read_jsonl(out)
    # A kill mid-write: 70 whole rows and half of the 71st.
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:70]) + lines[70][:25])
    summary = score_file(src, out, clf, text_column="body", id_column="msg_id", batch_size=16, resume=True,
                         progress=False)
    resumed = read_jsonl(out)
    assert summary.resumed == 70 and summary.scored == 80
    assert [r["id"] for r in resumed] == [r["id"] for r in full]
    assert [r["label"] for r in resumed] == [r["label"] for r in full]


def test_csv_in_and_out_without_an_id_column_uses_row_numbers(tiny_bundle, tmp_path):
    clf = Classifier.load(tiny_bundle)
    src = tmp_path / "in.csv"
    with src.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "other"])
        for t in fixture_texts()[:20]:
            w.writerow([t, "x"])
    summary = score_file(src, tmp_path / "out.csv", clf, explain=True, progress=False)
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert summary.scored == 20 and [r["id"] for r in rows] == [str(i) for i in range(2, 22)]  # CSV line numbers
    assert all(isinstance(json.loads(r["spans"]), list) for r in rows)


def test_parquet_in_and_out(tiny_bundle, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    clf = Classifier.load(tiny_bundle)
    texts = fixture_texts()[:30]
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(30)], "text": texts}), tmp_path / "in.parquet")
    summary = score_file(tmp_path / "in.parquet", tmp_path / "out.parquet", clf, id_column="id", batch_size=7,
                         progress=False)
    table = pq.read_table(tmp_path / "out.parquet").to_pylist()
    assert summary.scored == 30 and [r["id"] for r in table] == [f"p{i}" for i in range(30)]
    assert [r["label"] for r in table] == [p.label for p in clf.predict(texts)]
    with pytest.raises(DataError, match="--resume needs a .jsonl or .csv output"):
        score_file(tmp_path / "in.parquet", tmp_path / "out.parquet", clf, resume=True, progress=False)


def test_refuses_to_overwrite_its_input(tiny_bundle, tmp_path):
    src = write_input(tmp_path / "in.jsonl")
    with pytest.raises(DataError, match="overwrite the input"):
        score_file(src, src, Classifier.load(tiny_bundle), progress=False)


def test_score_cli_prints_a_summary(tiny_bundle, tmp_path, capsys):
    from callinkit.cli import main

    src = write_input(tmp_path / "in.jsonl", n=40, bad=False)
    assert main(["score", str(src), str(tmp_path / "o.jsonl"), "--bundle", str(tiny_bundle), "--text-column", "body",
                 "--quiet", "--summary", str(tmp_path / "s.json")]) == 0
    assert "scored 40 of 40 rows" in capsys.readouterr().out
    assert json.loads((tmp_path / "s.json").read_text())["scored"] == 40


def test_ray_engine_without_ray_says_what_to_install(tiny_bundle, tmp_path):
    import subprocess
    import sys

    src = write_input(tmp_path / "in.jsonl", n=5, bad=False)
    blocker = ("import sys\nclass Block:\n    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] == 'ray': raise ImportError('blocked ray')\n"
               "sys.meta_path.insert(0, Block())\n")
    proc = subprocess.run([sys.executable, "-c", blocker + "from callinkit.cli import main; raise SystemExit(main("
                           f"['score', {str(src)!r}, {str(tmp_path / 'o.parquet')!r}, '--bundle', {str(tiny_bundle)!r}, "
                           "'--text-column', 'body', '--id-column', 'msg_id', '--engine', 'ray']))"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "pip install 'callinkit[ray]'" in proc.stderr, proc.stderr
    assert not (tmp_path / "o.parquet").exists()


def test_ray_options_without_the_ray_engine_are_refused(tiny_bundle, tmp_path, capsys):
    from callinkit.cli import main

    src = write_input(tmp_path / "in.jsonl", n=5, bad=False)
    assert main(["score", str(src), str(tmp_path / "o.jsonl"), "--bundle", str(tiny_bundle), "--text-column", "body",
                 "--workers", "4"]) != 0
    assert "add --engine ray" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_default_chunk_is_512_rows_and_64_with_a_rewriter(tiny_bundle, tmp_path):
    # Large chunks let the classifier sort by length (less padding); with a rewriter each row may cost a
    # generation, so a kill should lose less work.
    from callinkit.serve.score import DEFAULT_BATCH_SIZE

    class Recording(Classifier):
        sizes: list[int] = []

        def predict(self, texts):
            self.sizes.append(len(texts))
            return super().predict(texts)

    clf = Recording(tiny_bundle)
    src = write_input(tmp_path / "in.jsonl", n=600, bad=False)
    score_file(src, tmp_path / "out.jsonl", clf, text_column="body", id_column="msg_id", progress=False)
    assert DEFAULT_BATCH_SIZE == 512 and clf.sizes == [512, 88]

    class Abstains:  # stands in for a rewriter: only the chunk size is under test
        def rewrite(self, texts, **kwargs):
            from callinkit.serve.rewriter import Rewrite

            return [Rewrite(None, {}, [], ok=False, reason="test") for _ in texts]

    clf.sizes.clear()
    score_file(src, tmp_path / "out2.jsonl", clf, text_column="body", id_column="msg_id", rewriter=Abstains(),
               progress=False)
    assert clf.sizes[:2] == [64, 64] and sum(clf.sizes) == 600


class _KeywordClassifier:
    """Calls a text a call-out when it says "clown": the rewrite fields are under test, not the model."""

    def predict(self, texts):
        from callinkit.serve.classifier import Prediction

        return [Prediction(label="call_out" if "clown" in t else "neutral", scores={}) for t in texts]


class _Rewrites:
    """Rewrites "you clown" and withholds every other call-out, with the guard's reason and code."""

    def rewrite(self, texts, **kwargs):
        from callinkit.serve.rewriter import Rewrite

        return [Rewrite("Could we talk about it?", {"score": 0.9}, []) if t == "you clown" else
                Rewrite(None, {}, [], ok=False, reason="not rewritten: the message carries a threat",
                        reason_codes=("refused_threat",)) for t in texts]


@pytest.mark.parametrize("ext", ["jsonl", "csv", "parquet"])
def test_rewrite_fields_survive_when_the_first_batch_has_no_call_out(tmp_path, ext):
    # CSV and Parquet take their columns from the first rows written: a first batch with nothing to rewrite
    # used to drop every later rewrite (CSV) or stop the run (Parquet).
    texts = ["the bus is late", "see you at 6", "you clown", "watch out, clown", "thanks all"]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = tmp_path / f"out.{ext}"
    summary = score_file(src, out, _KeywordClassifier(), rewriter=_Rewrites(), batch_size=2, progress=False)
    if ext == "jsonl":
        rows = read_jsonl(out)
    elif ext == "csv":
        rows = [{k: (v or None) for k, v in r.items()} for r in csv.DictReader(out.open())]
    else:
        import pyarrow.parquet as pq

        rows = pq.read_table(out).to_pylist()
    assert [r["rewrite"] for r in rows] == [None, None, "Could we talk about it?", None, None]
    assert rows[3]["rewrite_reason"].startswith("not rewritten") and rows[2]["rewrite_reason"] is None
    codes = rows[3]["rewrite_reason_codes"]
    assert (codes if ext == "jsonl" else json.loads(codes)) == ["refused_threat"]
    assert rows[0]["rewrite_reason_codes"] is None
    # only call-outs count as rewritten or withheld
    assert (summary.rewritten, summary.abstained) == (1, 1)
