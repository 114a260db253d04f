"""Classifier v2 features: explanations (library, CLI, HTTP), the `uncertain` flag, the threat weighting of the
corpus and the evaluation slices."""

from __future__ import annotations

import asyncio
import json
import shutil

import numpy as np
import pytest
from conftest import fixture_texts
from test_server_support import serving, settings

from callinkit import Classifier
from callinkit.serve.classifier import EXPLAIN_RELATIVE, merge_spans, without, word_spans
from callinkit.serve.http import create_app


def test_word_spans_keep_handles_contractions_and_censored_words():
    text = "@dan_r you're a f***ing clown, #BanHim! 9/11"
    assert [text[a:b] for a, b in word_spans(text, 64)] == ["@dan_r", "you're", "a", "f***ing", "clown", "#BanHim",
                                                             "9/11"]
    assert [text[a:b] for a, b in word_spans(text, 2)] == ["@dan_r", "you're"]


def test_without_removes_a_word_and_collapses_the_gap():
    text = "you absolute clown, delete this"
    assert without(text, [(4, 12)]) == "you clown, delete this"
    assert without(text, [(0, 3), (4, 12)]) == "clown, delete this"


def test_merge_spans_joins_adjacent_words_across_punctuation_only():
    from callinkit.serve.classifier import Span

    text = "you absolute clown, delete this"
    words = [Span(a, b, text[a:b], s) for (a, b), s in zip(word_spans(text, 64), [0.1, 2.0, 3.0, 1.5, 0.0])]
    spans = merge_spans(text, words, min_score=1.0)
    assert [(sp.text, sp.score) for sp in spans] == [("absolute clown, delete", 3.0)]
    spans = merge_spans(text, words, min_score=2.5)
    assert [sp.text for sp in spans] == ["clown"]


def test_explain_scores_every_word_by_occlusion_in_one_consistent_pass(tiny_bundle):
    clf = Classifier.load(tiny_bundle)
    texts = fixture_texts()[:6] + ["", "ok"]
    explanations = clf.explain(texts, window=1)
    predictions = clf.predict(texts)
    assert len(explanations) == len(texts)
    for text, exp, pred in zip(texts, explanations, predictions):
        assert exp.prediction.label == pred.label == exp.label
        assert exp.prediction.scores == pytest.approx(pred.scores, abs=1e-5)
        assert [(w.start, w.end) for w in exp.words] == word_spans(text, 64)
        for w in exp.words:  # each score is the log-odds drop when that word is left out
            p_full = pred.scores[exp.label]
            p_without = clf.predict_one(without(text, [(w.start, w.end)])).scores[exp.label]
            odds = np.log(p_full / (1 - p_full)) - np.log(p_without / (1 - p_without))
            assert w.score == pytest.approx(odds, abs=1e-3)
        best = max((w.score for w in exp.words), default=0.0)
        for sp in exp.spans:
            assert text[sp.start:sp.end] == sp.text and sp.score >= EXPLAIN_RELATIVE * best
        assert [sp.score for sp in exp.spans] == sorted((sp.score for sp in exp.spans), reverse=True)
    assert explanations[-2].words == [] and explanations[-2].spans == []


def test_a_words_score_is_the_best_drop_of_the_runs_that_hold_it(tiny_bundle):
    clf = Classifier.load(tiny_bundle)
    text = "you absolute clown, delete this now"
    exp = clf.explain([text], window=3)[0]
    label = exp.label
    ws = word_spans(text, 64)

    def drop(i, j):
        p_full = clf.predict_one(text).scores[label]
        p_wo = clf.predict_one(without(text, [(ws[i][0], ws[j - 1][1])])).scores[label]
        return np.log(p_full / (1 - p_full)) - np.log(p_wo / (1 - p_wo))

    for n, w in enumerate(exp.words):
        runs = [(i, i + size) for size in (1, 2, 3) for i in range(len(ws) - size + 1) if i <= n < i + size]
        assert w.score == pytest.approx(max(drop(i, j) for i, j in runs), abs=1e-3)
    with pytest.raises(ValueError, match="window"):
        clf.explain([text], window=0)


def test_explain_can_explain_a_label_other_than_the_prediction(tiny_bundle):
    clf = Classifier.load(tiny_bundle)
    text = fixture_texts()[0]
    assert clf.explain([text], label="neutral")[0].label == "neutral"
    with pytest.raises(ValueError, match="not one of"):
        clf.explain([text], label="rude")
    with pytest.raises(TypeError, match="list of strings"):
        clf.explain(text)


def test_uncertain_flag_follows_the_bundles_threshold(tiny_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    texts = fixture_texts()[:20]
    tops = Classifier.load(tiny_bundle).predict_proba(texts).max(axis=1)
    cut = float(np.median(tops))
    manifest["uncertain_below"] = cut
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    preds = Classifier.load(bundle).predict(texts)
    assert [p.uncertain for p in preds] == [bool(t < cut) for t in tops]
    assert any(p.uncertain for p in preds) and not all(p.uncertain for p in preds)
    assert preds[0].to_dict()["uncertain"] == preds[0].uncertain


def test_choose_uncertain_threshold_meets_the_target_accuracy():
    from callinkit.train.evaluation import choose_uncertain_threshold

    rng = np.random.default_rng(0)
    top = rng.uniform(0.34, 1.0, 2000)
    right = rng.uniform(0, 1, 2000) < top  # confident predictions are right more often
    probs = np.stack([top, (1 - top) / 2, (1 - top) / 2], axis=1)
    refs = np.where(right, 0, 1)
    out = choose_uncertain_threshold(probs, refs, target_accuracy=0.9)
    kept = top >= out["uncertain_below"]
    assert right[kept].mean() >= 0.9
    lower = top >= out["uncertain_below"] - 0.01
    assert right[lower].mean() < 0.9  # the lowest threshold that meets the target
    assert out["validation_flagged_share"] == pytest.approx(1 - kept.mean())


def test_predict_explain_cli_highlights_spans(tiny_bundle, capsys):
    from callinkit.cli import main

    clf = Classifier.load(tiny_bundle)
    text = next(t for t in fixture_texts() if clf.explain([t])[0].spans)
    assert main(["predict", "--bundle", str(tiny_bundle), "--explain", "--json", text]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["text"] == text and row["spans"] and "uncertain" in row
    assert [s["text"] for s in row["spans"]] == [sp.text for sp in clf.explain([text])[0].spans]
    assert main(["predict", "--bundle", str(tiny_bundle), "--explain", text]) == 0
    out = capsys.readouterr().out
    assert "[[" in out and "]]" in out


def test_http_classify_with_explain_returns_spans(tiny_bundle):
    texts = fixture_texts()[:5]
    expected = Classifier.load(tiny_bundle).explain(texts)

    async def scenario():
        async with serving(create_app(settings(tiny_bundle))) as client:
            explained = await client.post("/v1/classify", json={"texts": texts, "explain": True})
            plain = await client.post("/v1/classify", json={"texts": texts})
            return explained, plain

    explained, plain = asyncio.run(scenario())
    assert explained.status_code == 200, explained.text
    for got, want in zip(explained.json()["results"], expected):
        assert got["label"] == want.prediction.label and got["uncertain"] == want.prediction.uncertain
        assert [(s["start"], s["end"], s["text"]) for s in got["spans"]] == [(s.start, s.end, s.text)
                                                                             for s in want.spans]
    assert all(r["spans"] is None for r in plain.json()["results"])


def test_threat_weight_repeats_threats_and_near_misses_only():
    from callinkit.config import DataConfig, SourceConfig
    from callinkit.train.data import THREAT_STYLES, build_splits

    plain = build_splits((SourceConfig(name="callin_corpus"),), DataConfig(), "classification", 0)["train"]
    weighted = build_splits((SourceConfig(name="callin_corpus", threat_weight=3),), DataConfig(),
                            "classification", 0)["train"]
    n_threat = sum(r.get("style") in THREAT_STYLES for r in plain)
    assert n_threat > 500  # threat call-outs and near-miss neutral texts of corpus round 3
    assert sum(r.get("style") in THREAT_STYLES for r in weighted) == 3 * n_threat
    assert len(weighted) - len(plain) == 2 * n_threat


def test_threat_weight_is_refused_on_other_sources():
    from callinkit.config import config_from_dict
    from callinkit.errors import ConfigError

    with pytest.raises(ConfigError, match="threat_weight"):
        config_from_dict({"task": "classifier", "data": {"sources": [
            {"name": "davidson", "path": "x", "threat_weight": 2}]}}, "test.yaml")


def test_corpus_eval_has_threat_short_plain_register_and_no_concern_slices():
    from callinkit.train.evaluation import is_plain_register, read_eval_data

    slices = read_eval_data("callin_corpus:test")
    names = set(slices)
    assert {"callin_corpus:test", "callin_corpus:test:unseen_topics", "callin_corpus:test:threats",
            "callin_corpus:test:short_under_12_words", "callin_corpus:test:lowercase_no_punctuation",
            "callin_corpus:test:no_concern_rewrites"} <= names
    assert {r["label"] for r in slices["callin_corpus:test:no_concern_rewrites"]} == {"neutral"}
    threats = slices["callin_corpus:test:threats"]
    assert {r["label"] for r in threats} == {"call_out", "neutral"}
    assert all(r["style"] in ("threat", "threat_near_miss") for r in threats)
    assert all(len(r["text"].split()) < 12 for r in slices["callin_corpus:test:short_under_12_words"])
    assert all(is_plain_register(r["text"]) for r in slices["callin_corpus:test:lowercase_no_punctuation"])
    assert is_plain_register("ur so wrong lol") and not is_plain_register("You're wrong.")
