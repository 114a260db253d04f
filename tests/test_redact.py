"""`callinkit.corpus.redact`: texts of the public proxy corpora are found in files, replaced by references and put
back; and the repository's records and shipped models hold none (the data README: load them by path, never copy
them into the repository)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callinkit.corpus.redact import REF_RE, ProxyTexts, main, proxy_ref, redact_examples, transform_file
from callinkit.errors import DataError

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

TOXIC = "you are such a pathetic loser and nobody here even likes you"
NEUTRAL = "nobody here agrees with you on this one, and that is fine"
SHORT = "shut up idiot"  # too short to tell from a common phrase


@pytest.fixture()
def data(tmp_path) -> Path:
    """A data folder laid out as ../shared/data: one TSV corpus and one JSON-lines corpus."""
    root = tmp_path / "data"
    (root / "paradetox").mkdir(parents=True)
    (root / "paradetox" / "paradetox.tsv").write_text(f"toxic\tneutral1\n{TOXIC}\t{NEUTRAL}\n{SHORT}\tbe quiet\n")
    (root / "crowdcounter").mkdir()
    (root / "crowdcounter" / "Test.json").write_text(
        json.dumps({"hatePost": "they should all be sent back where they came from", "counterSpeech": "why?"}) + "\n")
    return root


def index(data: Path, own: Path | None = None) -> ProxyTexts:
    return ProxyTexts.load(data, own=own)


def test_whole_and_embedded_texts_are_replaced_by_references_and_put_back(data, tmp_path):
    ix = index(data)
    record = tmp_path / "eval.json"
    original = {"samples": [{"source": TOXIC.upper() + " !!", "candidate": "Nobody here likes this.",
                             "template": f'I don\'t think you meant harm, but "{TOXIC}". Could we talk?',
                             "short": SHORT, "other": "They should all be sent back where they came from"}]}
    record.write_text(json.dumps(original, indent=2) + "\n")

    text, n = transform_file(record, ix.redact_text)
    assert n == 3  # the source (case and punctuation do not hide it), the quote inside the template, the JSON-lines corpus's post
    row = json.loads(text)["samples"][0]
    assert row["source"] == proxy_ref("paradetox", TOXIC)
    assert row["template"] == f'I don\'t think you meant harm, but "{proxy_ref("paradetox", TOXIC)}". Could we talk?'
    assert row["other"] == proxy_ref("crowdcounter", "they should all be sent back where they came from")
    assert row["candidate"] == "Nobody here likes this." and row["short"] == SHORT  # not corpus texts / too short
    assert text.startswith('{\n  "samples"')  # the file keeps its indentation

    record.write_text(text)
    restored, m = transform_file(record, ix.restore_text)
    assert m == 3
    row = json.loads(restored)["samples"][0]
    assert row["source"] == TOXIC  # the corpus's own spelling
    assert row["template"] == original["samples"][0]["template"]


def test_json_lines_and_text_files(data, tmp_path):
    ix = index(data)
    lines = tmp_path / "items.jsonl"
    lines.write_text(json.dumps({"text": NEUTRAL}) + "\n" + json.dumps({"text": "fine"}) + "\n")
    text, n = transform_file(lines, ix.redact_text)
    assert n == 1 and [json.loads(x)["text"] for x in text.splitlines()] == [proxy_ref("paradetox", NEUTRAL), "fine"]
    report = tmp_path / "measure.txt"
    report.write_text(f"-0.26 True | {TOXIC}\nnothing here\n")
    text, n = transform_file(report, ix.redact_text)
    assert n == 1 and text == f"-0.26 True | {proxy_ref('paradetox', TOXIC)}\nnothing here\n"


def test_the_projects_own_texts_are_not_copies(data, tmp_path):
    own = tmp_path / "own"
    own.mkdir()
    (own / "pairs.jsonl").write_text(json.dumps({"call_out": NEUTRAL.capitalize() + ".", "call_in": "ok"}) + "\n")
    ix = index(data, own=own)
    assert ix.redact_text(NEUTRAL) == (NEUTRAL, 0)  # the corpus shares it: not redacted
    assert ix.redact_text(TOXIC)[1] == 1


def test_the_command_line(data, tmp_path, capsys):
    folder = tmp_path / "judging"
    folder.mkdir()
    (folder / "key.jsonl").write_text(json.dumps({"source": TOXIC}) + "\n")
    (folder / "README.md").write_text(f"Quoted by hand: {TOXIC}\n")  # prose is not rewritten

    assert main(["check", str(folder), "--data", str(data)]) == 1
    assert "found 1 proxy text(s)" in capsys.readouterr().out
    assert main(["redact", str(folder), "--data", str(data)]) == 0
    assert REF_RE.search((folder / "key.jsonl").read_text())
    assert TOXIC in (folder / "README.md").read_text()
    assert main(["check", str(folder), "--data", str(data)]) == 0
    out = tmp_path / "restored.jsonl"
    assert main(["restore", str(folder / "key.jsonl"), "--out", str(out), "--data", str(data)]) == 0
    assert json.loads(out.read_text())["source"] == TOXIC
    assert REF_RE.search((folder / "key.jsonl").read_text())  # --out leaves the record as it was


def test_clear_errors(data, tmp_path, capsys):
    assert main(["check", str(tmp_path / "missing"), "--data", str(data)]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "a.jsonl").write_text(json.dumps({"t": "⟦proxy:paradetox:0123456789ab⟧"}) + "\n")
    assert main(["restore", str(tmp_path / "a.jsonl"), "--data", str(data)]) == 2
    assert "not found in the proxy corpora" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "a.jsonl"), "--data", str(tmp_path / "nodata")]) == 2
    assert "--data" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no corpus text"):
        ProxyTexts.load(tmp_path / "empty", own=None)


def test_a_released_eval_keeps_no_proxy_text_but_keeps_its_own_corpus():
    from callinkit.train.release import shipped_eval

    evaluation = {"results": {}, "samples": {"x": []}, "confident_errors": {
        "callin_corpus:test": [{"text": "Our own sentence.", "label": "call_in", "predicted": "neutral"}],
        "crowdcounter:test": [{"text": "Any meet will end good", "label": "call_in", "predicted": "neutral"}]}}
    shipped = shipped_eval(evaluation)
    assert "samples" not in shipped
    assert shipped["confident_errors"]["callin_corpus:test"][0]["text"] == "Our own sentence."
    errors = shipped["confident_errors"]["crowdcounter:test"]
    assert errors == [{"text": proxy_ref("crowdcounter", "Any meet will end good"), "label": "call_in",
                       "predicted": "neutral"}]
    assert redact_examples({"tydip:test": [{"label": "neutral"}]}) == {"tydip:test": [{"label": "neutral"}]}


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} not present (public proxy corpora)")
def test_the_repositorys_records_and_shipped_models_hold_no_proxy_text(capsys):
    """Judging records, evaluation outputs and the models in the package: every proxy text is a reference."""
    assert main(["check", str(REPO / "model_cards"), str(REPO / "callinkit" / "models"), "--data",
                 str(SHARED_DATA)]) == 0, capsys.readouterr().out
