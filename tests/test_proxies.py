"""Tests for callinkit.corpus.proxies: every loader on its invented fixture, the error cases, and (marked
shared_data) a plausibility check on the real corpora in ../shared/data."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from callinkit.corpus.proxies import (
    CROWDCOUNTER_LABELS,
    PROXIES,
    TYDIP_LABELS,
    load_proxy,
    tydip_band,
)
from callinkit.errors import DataError

FIX = Path(__file__).parent / "fixtures" / "proxies"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LABELS = {"call_out", "call_in", "neutral"}


def counts(records: list[dict]) -> Counter:
    return Counter((r["label"], r["split"]) for r in records)


def texts(records: list[dict]) -> set[str]:
    return {r["text"] for r in records}


# --- Fixtures: classification -------------------------------------------------------------------------------


def test_every_record_has_the_interface_keys():
    for name in PROXIES:
        for r in load_proxy(name, FIX / name, "classification"):
            assert set(r) == {"text", "label", "split", "source"}
            assert r["source"] == name and r["label"] in LABELS
            assert r["text"] == r["text"].strip() and r["text"]


def test_paradetox_classification_keeps_paraphrases_as_neutral():
    recs = load_proxy("paradetox", FIX / "paradetox", "classification")
    assert counts(recs) == {("neutral", None): 7}
    t = texts(recs)
    assert not any("stupid" in x or "damn" in x or "crap" in x for x in t)  # toxic sources dropped
    assert "you are wrong about this" not in t  # second-person paraphrase dropped
    assert "the damn bus was late again and the driver did not care ." not in t  # unchanged "paraphrase"
    assert "the wifi is down again." in t
    assert "the expert on the radio got it\nwrong ." in t  # quoted multi-line TSV field


def test_paradetox_pairs_one_per_paraphrase():
    pairs = load_proxy("paradetox", FIX / "paradetox" / "paradetox.tsv", "pairs")
    assert len(pairs) == 10
    assert all(set(p) == {"call_out", "call_in", "split", "source"} for p in pairs)
    assert all(p["split"] is None and p["source"] == "paradetox" for p in pairs)
    bus = [p["call_in"] for p in pairs if p["call_out"].startswith("the damn bus")]
    assert len(bus) == 2  # the third paraphrase equals the source and is skipped
    assert {"call_out": "the fricking wifi is down again .", "call_in": "the wifi is down again.",
            "split": None, "source": "paradetox"} in pairs  # stripped; whitespace-only paraphrase skipped
    assert sum(p["call_out"].startswith("this stupid printer") for p in pairs) == 1  # duplicate row dropped


def test_paradetox_cannot_rewrite_is_refused_with_reason():
    with pytest.raises(DataError, match="could not detoxify"):
        load_proxy("paradetox", FIX / "paradetox" / "paradetox_cannot_rewrite.tsv", "classification")


def test_crowdcounter_maps_types_and_reads_splits():
    recs = load_proxy("crowdcounter", FIX / "crowdcounter", "classification")
    assert counts(recs) == {("call_out", "train"): 2, ("call_in", "train"): 3, ("call_out", "validation"): 2,
                            ("call_in", "validation"): 2, ("call_out", "test"): 1, ("call_in", "test"): 2}
    t = texts(recs)
    assert not any("casserole" in x or "pies" in x for x in t)  # humour dropped
    assert not any("Crime in most" in x or "surgeons" in x for x in t)  # contradiction dropped
    assert not any("delete this" in x for x in t)  # empathy_affiliation + warning-of-consequences: conflict
    assert "Why would you write something like that?" not in t  # same text as questions and shaming
    assert "My aunt goes there and she is the kindest person I know." in t
    label = {r["text"]: r["label"] for r in recs}
    assert label["Have you worked with many women engineers? Mine are the best on the team."] == "call_in"
    assert label["Keep talking like this and you'll be reported and banned."] == "call_out"


def test_crowdcounter_final_dataset_has_no_split():
    recs = load_proxy("crowdcounter", FIX / "crowdcounter" / "Final_Dataset.json", "classification")
    assert counts(recs) == {("call_out", None): 5, ("call_in", None): 7}
    one = load_proxy("crowdcounter", FIX / "crowdcounter" / "Val.json", "classification")
    assert counts(one) == {("call_out", "validation"): 2, ("call_in", "validation"): 2}


def test_crowdcounter_mapping_is_explicit():
    assert CROWDCOUNTER_LABELS["shaming"] == CROWDCOUNTER_LABELS["warning-of-consequences"] == "call_out"
    assert CROWDCOUNTER_LABELS["empathy_affiliation"] == CROWDCOUNTER_LABELS["questions"] == "call_in"
    assert CROWDCOUNTER_LABELS["humour"] is None and CROWDCOUNTER_LABELS["contradiction"] is None


def test_davidson_keeps_unanimous_neither_only():
    recs = load_proxy("davidson", FIX / "davidson" / "labeled_data.csv", "classification")
    assert counts(recs) == {("neutral", None): 5}
    t = texts(recs)
    assert "RT @kitchen_tips: salt & pepper is all a good steak needs" in t  # HTML entities decoded
    assert "“Best tacos in town” is a bold claim for a gas station" in t
    assert "that referee is trash lol" not in t  # not unanimous
    assert not any("jacket" in x for x in t)  # addressed to someone
    assert not any("outsiders" in x or "traffic" in x for x in t)  # hate / offensive dropped


def test_tydip_bands():
    recs = load_proxy("tydip", FIX / "tydip", "classification")
    assert counts(recs) == {("neutral", "train"): 3, ("call_out", "train"): 2,
                            ("neutral", "test"): 2, ("call_out", "test"): 1}
    t = texts(recs)
    assert "I moved the section to the talk page. Is that okay with you?" in t  # score 0.0 is polite
    assert not any("map again" in x or "edit summary" in x or "swapped" in x for x in t)  # impolite dropped
    assert tydip_band(-2.0) == "strongly_impolite" and tydip_band(-1.99) == "impolite"
    assert TYDIP_LABELS == {"polite": "neutral", "impolite": None, "strongly_impolite": "call_out"}


def test_positive_frames_self_talk_is_neutral():
    recs = load_proxy("positive_frames", FIX / "positive_frames", "classification")
    assert counts(recs) == {("neutral", "train"): 8, ("neutral", "validation"): 9, ("neutral", "test"): 9}
    t = texts(recs)
    assert not any("cancel on me" in x or "forget your keys" in x or "do u keep" in x for x in t)  # addressed
    assert "I'll ask my roommate to agree on a dish rota this weekend." in t
    assert "Plans change sometimes; I'll use the free evening to rest." in t  # its reframe kept
    assert "I can’t sleep again, my brain just won't switch off" in t  # UTF-8 kept as is


def test_reddit_counterspeech_uses_other_replies_only():
    recs = load_proxy("reddit_counterspeech", FIX / "reddit_counterspeech", "classification")
    assert counts(recs) == {("neutral", "train"): 3, ("neutral", "validation"): 3}
    t = texts(recs)
    assert ">closed in 2019\n\nThat matches what I read too." in t  # &gt; decoded
    assert "First, get the form from the tax office.\n\nThen fill in part two before part one." in t
    assert not any("bigoted" in x or "accent" in x for x in t)  # counterspeech dropped
    assert not any("parasites" in x or "subhuman" in x for x in t)  # hate dropped
    assert "[deleted]" not in t and "You clearly didn't read the article." not in t
    assert sum(x == "Does anyone have the source for this clip?" for x in t) == 1


# --- Errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROXIES)
def test_missing_path(tmp_path, name):
    with pytest.raises(DataError, match="no such file or folder"):
        load_proxy(name, tmp_path / "nope", "classification")


@pytest.mark.parametrize("name", PROXIES)
def test_folder_without_expected_files(tmp_path, name):
    (tmp_path / "notes.txt").write_text("nothing here\n", encoding="utf-8")
    with pytest.raises(DataError, match=f"not a {name} folder; missing"):
        load_proxy(name, tmp_path, "classification")


def test_partial_folder_names_missing_file(tmp_path):
    shutil.copy(FIX / "tydip" / "en_train.csv", tmp_path / "en_train.csv")
    with pytest.raises(DataError, match="en_test.csv"):
        load_proxy("tydip", tmp_path, "classification")


def test_unknown_file_in_corpus(tmp_path):
    f = tmp_path / "other.csv"
    f.write_text("sentence,score\nhi,1\n", encoding="utf-8")
    with pytest.raises(DataError, match="not a tydip file"):
        load_proxy("tydip", f, "classification")


@pytest.mark.parametrize("name,file,content", [
    ("davidson", "labeled_data.csv", ",count,class,text\n0,3,2,hello there\n"),
    ("tydip", "en_train.csv", "text,politeness\nCould you check this?,0.5\n"),
    ("positive_frames", "wholetrain.csv", ",original,reframe\n0,a,b\n"),
    ("reddit_counterspeech", "validation_set.csv", "id,parent,reply\nx1,a,b\n"),
    ("paradetox", "paradetox.tsv", "toxic\tneutral\nbad\tgood\n"),
])
def test_wrong_columns(tmp_path, name, file, content):
    (tmp_path / file).write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=rf"{file}: missing column") as err:
        load_proxy(name, tmp_path / file, "classification")
    assert "expected" in str(err.value)


def test_crowdcounter_bad_lines(tmp_path):
    f = tmp_path / "Train.json"
    f.write_text('{"hatespeech": "x", "text": "y"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"Train.json:1: expected a JSON object with keys"):
        load_proxy("crowdcounter", f, "classification")
    f.write_text('{"counterspeech": "y", "required_types": "sarcasm", "total_types": []}\n', encoding="utf-8")
    with pytest.raises(DataError, match="unknown counterspeech type"):
        load_proxy("crowdcounter", f, "classification")


def test_bad_number(tmp_path):
    f = tmp_path / "en_test.csv"
    f.write_text("sentence,score\nCould you check this?,high\n", encoding="utf-8")
    with pytest.raises(DataError, match="en_test.csv: data row 1: column 'score'"):
        load_proxy("tydip", f, "classification")


@pytest.mark.parametrize("name", [n for n in PROXIES if n != "paradetox"])
def test_pairs_refused_for_non_parallel(name):
    with pytest.raises(DataError, match="cannot be loaded as pairs"):
        load_proxy(name, FIX / name, "pairs")


def test_reddit_pairs_message_names_the_restriction():
    with pytest.raises(DataError, match="not be used to train text generators.*classification only"):
        load_proxy("reddit_counterspeech", FIX / "reddit_counterspeech", "pairs")


def test_unknown_name_or_task():
    with pytest.raises(ValueError, match="unknown proxy"):
        load_proxy("toxic_spans", FIX, "classification")
    with pytest.raises(ValueError, match="task"):
        load_proxy("tydip", FIX / "tydip", "generation")  # type: ignore[arg-type]


# --- Real data (../shared/data) -----------------------------------------------------------------------------

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} not present (public proxy corpora)")

@pytest.mark.parametrize("name,low,high,labels,splits", [
    ("paradetox", 12_000, 17_000, {"neutral"}, {None}),
    ("crowdcounter", 1_500, 2_100, {"call_out", "call_in"}, {"train", "validation", "test"}),
    ("davidson", 2_000, 3_000, {"neutral"}, {None}),
    ("tydip", 2_000, 2_700, {"neutral", "call_out"}, {"train", "test"}),
    ("positive_frames", 13_000, 16_700, {"neutral"}, {"train", "validation", "test"}),
    ("reddit_counterspeech", 2_500, 3_800, {"neutral"}, {"train", "validation"}),
])
@pytest.mark.shared_data
@needs_shared
def test_real_classification(name, low, high, labels, splits):
    recs = load_proxy(name, SHARED / name, "classification")
    assert low <= len(recs) <= high
    assert {r["label"] for r in recs} == labels
    assert {r["split"] for r in recs} == splits
    assert len(texts(recs)) == len(recs)  # no duplicates


@pytest.mark.shared_data
@needs_shared
def test_real_paradetox_pairs():
    pairs = load_proxy("paradetox", SHARED / "paradetox", "pairs")
    assert 18_000 <= len(pairs) <= 19_743  # README: 19,743 pairs before dropping unchanged/duplicate ones
    assert all(p["call_out"] and p["call_in"] and p["call_out"] != p["call_in"] for p in pairs)


@pytest.mark.shared_data
@needs_shared
def test_real_crowdcounter_final_matches_split_files():
    final = load_proxy("crowdcounter", SHARED / "crowdcounter" / "Final_Dataset.json", "classification")
    split = load_proxy("crowdcounter", SHARED / "crowdcounter", "classification")
    assert Counter(r["label"] for r in final) == Counter(r["label"] for r in split)
