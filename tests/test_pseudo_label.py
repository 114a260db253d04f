"""Pseudo-labelling real text for the classifier: which texts enter the pool, and which teacher labels are kept."""

import json

import numpy as np
import pytest

from callinkit.errors import DataError

CORPUS_TEST_TEXT = "Rivka's bio says she/her, so it's \"her deck,\" not \"his deck.\" Was that just autopilot while talking about the build?"


def test_select_keeps_only_agreeing_and_sure_teachers():
    from callinkit.train.pseudo_label import select

    probs = np.array([
        [[0.95, 0.03, 0.02], [0.6, 0.3, 0.1], [0.1, 0.85, 0.05], [0.02, 0.02, 0.96]],   # teacher 1
        [[0.91, 0.05, 0.04], [0.9, 0.05, 0.05], [0.1, 0.05, 0.85], [0.05, 0.0, 0.95]],   # teacher 2
    ])
    keep, label, mean = select(probs, 0.9)
    assert keep.tolist() == [True, False, False, True]   # sure; unsure (mean 0.75); disagree; sure
    assert label[[0, 3]].tolist() == [0, 2]
    assert mean[0] == pytest.approx(0.93)


def _fake_data_dir(root):
    """A shared/data folder with a few rows in each pool's files (and the held-out files they sit beside)."""
    (root / "reddit_counterspeech").mkdir(parents=True)
    (root / "reddit_counterspeech" / "gpt_4o_labels.csv").write_text(
        "id,subreddit,parent,reply,label\n"
        "a,s,p,you are a clown and everyone knows it,2\n"
        "b,s,p,the weather is nice today,0\n"            # labelled 'other': already used, not pooled
        f"c,s,p,\"{CORPUS_TEST_TEXT.replace(chr(34), chr(34) * 2)}\",2\n")   # in the corpus: held out
    (root / "reddit_counterspeech" / "validation_set.csv").write_text(
        "id,subreddit,parent,reply,label\nd,s,p,hello there,0\n")
    cc = root / "crowdcounter"
    cc.mkdir()
    line = {"hatespeech": "h", "counterspeech": "Funny how facts never stop you, huh?", "required_types": "humour",
            "total_types": ["humour"]}
    shaming = {**line, "counterspeech": "How dare you post this", "required_types": "shaming", "total_types": ["shaming"]}
    (cc / "Train.json").write_text(json.dumps(line) + "\n" + json.dumps(shaming) + "\n")
    (cc / "Val.json").write_text("")
    (cc / "Test.json").write_text(json.dumps({**line, "counterspeech": "a test reply"}) + "\n")
    (root / "tydip").mkdir()
    (root / "tydip" / "en_train.csv").write_text("sentence,score\nWhy did you remove it?,-0.5\nThanks!,1.2\n")
    (root / "tydip" / "en_test.csv").write_text("sentence,score\nPlease stop.,-0.5\n")
    (root / "paradetox").mkdir()
    (root / "paradetox" / "paradetox.tsv").write_text(
        "toxic\tneutral1\tneutral2\tneutral3\n" + "".join(f"this stupid thing number {i}\tthis thing {i}\t\t\n"
                                                          for i in range(30)))
    (root / "toxic_spans").mkdir()
    (root / "toxic_spans" / "tsd_train.csv").write_text('spans,text\n"[0, 1]",what an idiot take\n')
    return root


def test_pools_read_only_the_ambiguous_training_rows(tmp_path):
    from callinkit.train.pseudo_label import pool_texts

    pools = pool_texts(_fake_data_dir(tmp_path))
    assert pools["reddit_counterspeech"] == ["you are a clown and everyone knows it", CORPUS_TEST_TEXT]
    assert pools["crowdcounter"] == ["Funny how facts never stop you, huh?"]   # humour, not shaming; not Test.json
    assert pools["tydip"] == ["Why did you remove it?"]                         # the impolite band only
    assert 0 < len(pools["paradetox"]) < 30                                     # the seeded train share
    assert pools["toxic_spans"] == ["what an idiot take"]
    with pytest.raises(DataError, match="no such folder"):
        pool_texts(tmp_path / "nowhere")


def test_pseudo_label_writes_train_rows_without_held_out_text(tiny_bundle, tmp_path):
    from callinkit.train.pseudo_label import POOL_LABELS, main

    data = _fake_data_dir(tmp_path / "data")
    out = tmp_path / "pseudo.jsonl"
    assert main(["--teacher", str(tiny_bundle), "--teacher", str(tiny_bundle), "--data-dir", str(data),
                 "--out", str(out), "--min-prob", "0.01", "--cap", "3"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(r["split"] == "train" and 0.01 <= r["teacher_prob"] <= 1 for r in rows)
    assert CORPUS_TEST_TEXT not in {r["text"] for r in rows}
    for r in rows:
        assert r["label"] in POOL_LABELS.get(r["pool"], ("call_out", "call_in", "neutral"))
    per_group: dict = {}
    for r in rows:
        per_group[(r["pool"], r["label"])] = per_group.get((r["pool"], r["label"]), 0) + 1
    assert max(per_group.values()) <= 3
    summary = json.loads((tmp_path / "pseudo.jsonl.summary.json").read_text())
    assert summary["rows"] == len(rows) and summary["pool"]["toxic_spans"] == 1
