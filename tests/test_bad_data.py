"""Bad training data is refused with every problem named by file and line, or skipped under
`data.on_error: skip` and still reported; nothing is dropped silently."""

from __future__ import annotations

import pytest

from callinkit.config import DataConfig, SourceConfig
from callinkit.errors import DataError
from callinkit.train.data import build_splits

GOOD = ['{"id": "a", "text": "you clown, delete this", "label": "call_out"}',
        '{"id": "b", "text": "could you swap that word?", "label": "call_in"}',
        '{"id": "c", "text": "the bus is late", "label": "neutral"}']


def write_jsonl(path, lines, extra_bytes: bytes = b""):
    path.write_bytes("\n".join(lines).encode() + b"\n" + extra_bytes)
    return path


def rows(path, on_error="raise", name="jsonl"):
    """Every row the source gives, whichever split it lands in."""
    from callinkit.train.data import source_rows

    return source_rows(SourceConfig(name=name, path=str(path)), "classification", on_error)


def splits(path, on_error="raise", name="jsonl"):
    data = DataConfig(sources=(SourceConfig(name=name, path=str(path)),), on_error=on_error)
    return build_splits(data.sources, data, "classification", 0)


BAD = [
    ('{"id": "d", "text": "unterminated', "not valid JSON"),
    ('["a", "list"]', "expected a JSON object"),
    ('{"id": "e", "label": "neutral"}', "no 'text' column"),
    ('{"id": "f", "text": "hi", "label": "rude"}', "unknown label 'rude'"),
    ('{"id": "g", "text": "   ", "label": "neutral"}', "empty 'text'"),
    ('{"id": "a", "text": "again", "label": "neutral"}', "id 'a' repeats line 1"),
    ('{"id": "h", "text": "x", "label": "neutral", "split": "holdout"}', "split 'holdout'"),
]


def test_every_bad_jsonl_row_is_named_with_its_line(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", GOOD + [b for b, _ in BAD], b'{"text": "caf\xe9", "label": "neutral"}\n')
    with pytest.raises(DataError) as exc:
        splits(path)
    message = str(exc.value)
    assert f"{len(BAD) + 1} bad row(s)" in message and "data.on_error: skip" in message
    for offset, (_, problem) in enumerate(BAD):
        assert f"{path}:{len(GOOD) + 1 + offset}: {problem}" in message
    assert f"{path}:{len(GOOD) + len(BAD) + 1}: not UTF-8 (byte 0xe9" in message


def test_skip_drops_only_the_bad_rows_and_reports_them(tmp_path, capsys):
    path = write_jsonl(tmp_path / "d.jsonl", GOOD + [b for b, _ in BAD])
    kept = rows(path, on_error="skip")
    assert sorted(r["text"] for r in kept) == sorted(["you clown, delete this", "could you swap that word?",
                                                      "the bus is late"])
    out = capsys.readouterr().out
    assert f"skipped {len(BAD)} bad row(s) of {len(GOOD) + len(BAD)}" in out
    assert all(problem in out for _, problem in BAD)


def test_csv_rows_with_too_many_cells_or_missing_columns(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text,label\nyou clown,call_out\n\"a, quoted, text\",neutral\nextra,neutral,oops\n,neutral\n")
    with pytest.raises(DataError) as exc:
        splits(path, name="csv")
    message = str(exc.value)
    assert f"{path}:4: 3 cells for 2 columns" in message and f"{path}:5: empty 'text'" in message
    assert ":3:" not in message  # the quoted comma is one cell


def test_a_file_of_only_bad_rows_under_skip_says_it_has_no_rows(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", ['{"text": ""}'])
    with pytest.raises(DataError, match="has no rows"):
        splits(path, on_error="skip")
