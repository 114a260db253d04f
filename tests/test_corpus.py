"""The shipped corpus, its loader, `callinkit data check` (passing and failing cases) and the splitter."""

import json

import numpy as np
import pytest

from callinkit.cli import main
from callinkit.corpus import KINDS, load_corpus, read_records, read_splits
from callinkit.corpus.check import MAX_OPENER_SHARE, opener, run_check
from callinkit.corpus.split import UNSEEN_TOPICS, assign_splits


def test_shipped_corpus_meets_the_minimums_and_passes_schema_checks():
    report = run_check(embeddings=False)
    assert report.problems == []
    assert report.counts["records"]["pairs"] >= 2500 and report.counts["records"]["neutral"] >= 2000
    assert report.stats["hard_negative_share"] >= 0.25
    assert len(report.counts["topic (pairs + singles)"]) >= 40
    assert len(report.counts["style (pairs + call_out singles)"]) >= 10
    assert len(report.counts["platform (pairs + singles)"]) >= 8
    assert len(report.counts["strategy (pairs + call_in singles)"]) >= 6


def test_loader_returns_a_datasetdict_with_fixed_splits_and_an_unseen_topic_slice():
    dd = load_corpus("classification")
    assert set(dd) == {"train", "validation", "test"}
    assert set(dd["train"]["label"]) == {"call_out", "call_in", "neutral"}
    total = sum(len(dd[s]) for s in dd)
    assert len(dd["test"]) / total >= 0.12 and len(dd["test"]) >= 2000  # texts; see MIN_TEST_SHARE
    unseen_topics = {t for t, u in zip(dd["test"]["topic"], dd["test"]["unseen_topic"]) if u}
    assert unseen_topics == set(UNSEEN_TOPICS)
    assert not any(dd["train"]["unseen_topic"]) and not set(dd["train"]["topic"]) & set(UNSEEN_TOPICS)
    pairs = load_corpus("pairs")
    assert {"call_out", "call_in", "strategy", "context", "alt_call_ins"} <= set(pairs["train"].column_names)
    assert sum(bool(c) for c in pairs["train"]["context"]) > 300  # round 3's replies carry the post they answer
    assert sum(len(a) for s in pairs for a in pairs[s]["alt_call_ins"]) == 1020


def test_a_no_concern_rewrite_is_a_neutral_text_and_other_rewrites_are_call_ins():
    """LABELS.md: plain disagreement that confronts nobody's conduct is neutral. A no_concern pair's rewrite only
    states the disagreement, so the classifier learns it as neutral; the pair keeps it as its reference."""
    from callinkit.corpus import NO_CONCERN_REWRITE, Record, classification_rows

    records = {"pairs": [Record("pairs", {**PAIR, "id": "p1"}, "pairs.jsonl", 1), Record("pairs", {
        **PAIR, "id": "p2", "call_out": "ratio + L", "call_in": "not my take, but fair", "strategy": "no_concern"}, "pairs.jsonl", 2)]}
    splits = {"assignments": {"p1": "train", "p2": "train"}}
    got = {(r["id"], r["label"], r["style"]) for r in classification_rows(records, splits)}
    assert got == {("p1:call_out", "call_out", "insult"), ("p1:call_in", "call_in", ""),
                   ("p2:call_out", "call_out", "insult"), ("p2:call_in", "neutral", NO_CONCERN_REWRITE)}
    shipped = load_corpus("classification")["train"]
    assert {lab for lab, style in zip(shipped["label"], shipped["style"]) if style == NO_CONCERN_REWRITE} == {"neutral"}


def test_every_record_has_a_split():
    assign = read_splits()["assignments"]
    ids = [rec.id for kind in KINDS for rec in read_records(kind)]
    assert len(ids) == len(set(ids)) == len(assign) and set(ids) == set(assign)


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


PAIR = {"id": "p1", "call_out": "you clown, stop posting this", "call_in": "could you stop posting this?",
        "topic": "sexism", "style": "insult", "platform": "reddit", "strategy": "question"}


def test_check_fails_naming_file_and_line(tmp_path, capsys):
    bad = _write(tmp_path / "pairs.jsonl", [
        PAIR,
        {**PAIR, "id": "p1", "call_out": "a totally different call out text here"},           # duplicate id
        {**PAIR, "id": "p3", "style": "insultt", "call_in": "could you stop posting this?"},  # bad enum + dup text
        {**PAIR, "id": "p4", "call_out": "x"},                                                 # too short
    ])
    assert main(["data", "check", "--no-embeddings", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2: duplicate id 'p1' (first at {bad}:1)" in err
    assert f"{bad}:3: style 'insultt' is not one of" in err
    assert f"{bad}:3: call_in duplicates the text at {bad}:1" in err
    assert f"{bad}:4: 'call_out' has 1 words" in err


def test_check_flags_template_call_ins(tmp_path):
    rows = [{**PAIR, "id": f"p{i}", "call_out": f"you clown number {i}, stop it now",
             "call_in": f"Hey there, please reconsider point {i} of your post"} for i in range(30)]
    report = run_check([str(_write(tmp_path / "p.jsonl", rows))], embeddings=False)
    assert any("'hey there' starts 30 of 30 call-ins" in p for p in report.problems)
    assert opener("Hey THERE, friend") == "hey there" and MAX_OPENER_SHARE == 0.05


def test_check_flags_stock_closings_and_bad_round3_fields(tmp_path):
    rows = [{**PAIR, "id": f"p{i}", "call_out": f"you clown number {i}, stop it now",
             "call_in": f"Point {i} of your post hurts people. Please take it down."} for i in range(30)]
    rows[0] = {**rows[0], "context": "  ", "register": "shouty", "domain": "space"}
    rows[1] = {**rows[1], "context": "the post being replied to", "strategy": "no_concern", "register": "lowercase"}
    report = run_check([str(_write(tmp_path / "pairs.jsonl", rows))], embeddings=False)
    assert any("closing 'please take it' ends 30 of 30 call-ins" in p or "closing 'take it down' ends 30" in p
               for p in report.problems)
    assert any(":1: context, when present, must be a non-empty string" in p for p in report.problems)
    assert any(":1: register 'shouty' is not one of" in p for p in report.problems)
    assert any(":1: domain 'space' is not one of" in p for p in report.problems)
    assert not any(":2:" in p for p in report.problems)  # context, no_concern and a register are all valid


def test_check_validates_second_references(tmp_path):
    pairs = _write(tmp_path / "pairs.jsonl", [PAIR])
    alts = _write(tmp_path / "altrefs.jsonl", [
        {"pair_id": "p1", "call_in": "What made you post this? It lands hard on people.", "strategy": "naming_impact"},
        {"pair_id": "p9", "call_in": "A second call-in for a pair that does not exist.", "strategy": "firm_boundary"},
        {"pair_id": "p1", "call_in": "could you stop posting this?", "strategy": "question"},
    ])
    report = run_check([str(pairs), str(alts)], embeddings=False)
    problems = "\n".join(report.problems)
    assert f"{alts}:2: pair_id 'p9' is not a pair of the corpus" in problems
    assert f"{alts}:3: pair p1 already has a second reference" in problems
    assert f"{alts}:3: the second reference of p1 repeats its first" in problems
    assert f"{alts}:3: the second reference of p1 uses the same strategy as the first" in problems
    assert f"{alts}:1:" not in problems


def test_check_accepts_classification_csv_and_rejects_unknown_formats(tmp_path):
    good = tmp_path / "c.csv"
    good.write_text("text,label\nthe bus is late again,neutral\nyou clown stop it,call_out\n")
    assert run_check([str(good)], embeddings=False).problems == []
    bad = _write(tmp_path / "x.jsonl", [{"foo": 1}])
    from callinkit.errors import DataError

    with pytest.raises(DataError, match="cannot tell the record type"):
        run_check([str(bad)], embeddings=False)


def test_near_duplicates_are_found_and_kept_in_one_split(tmp_path):
    rows = [{**PAIR, "id": f"p{i}", "call_out": f"call out number {i} here please",
             "call_in": f"call in number {i} here please"} for i in range(40)]
    path = _write(tmp_path / "p.jsonl", rows)

    def fake_embed(texts):  # records 0 and 1 get the same vector: near-duplicates; the rest are orthogonal
        out = np.zeros((len(texts), len(texts)), dtype=np.float32)
        for i, t in enumerate(texts):
            n = int(t.split()[3])
            out[i, 0 if n in (0, 1) else i] = 1.0
        return out

    report = run_check([str(path)], embeddings=True, embed=fake_embed)
    assert report.stats["near_duplicate_pairs"] == 1
    from callinkit.corpus.check import near_duplicate_pairs, read_path

    records = read_path(path)
    near = near_duplicate_pairs(records, 0.85, fake_embed)
    assert [(a, b) for a, b, _ in near] == [(0, 1)]
    assign = assign_splits(records, near)
    assert assign["p0"] == assign["p1"]


def test_unseen_topics_go_to_test():
    from callinkit.corpus import Record

    records = [Record("pairs", {**PAIR, "id": f"p{i}", "topic": UNSEEN_TOPICS[0]}, "f", i) for i in range(10)]
    assert set(assign_splits(records, []).values()) == {"test"}
