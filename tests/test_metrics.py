"""The project's evaluate modules, loaded by path, on inputs with known answers."""

import pytest

from callinkit.metrics import load_metric, metric_path


def test_classification_report_values():
    m = load_metric("callin_classification")
    out = m.compute(predictions=[0, 0, 1, 2, 2, 2], references=[0, 1, 1, 2, 2, 0])
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["call_out_precision"] == pytest.approx(0.5) and out["call_out_recall"] == pytest.approx(0.5)
    assert out["call_in_precision"] == pytest.approx(1.0) and out["call_in_recall"] == pytest.approx(0.5)
    assert out["neutral_f1"] == pytest.approx(2 * (2 / 3) * 1 / (2 / 3 + 1))
    assert out["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)
    assert out["confusion_matrix"] == [[1, 0, 1], [1, 1, 0], [0, 0, 2]]
    assert out["call_out_support"] == 2


def test_ece_values():
    m = load_metric("expected_calibration_error")
    perfect = m.compute(probabilities=[[1.0, 0.0], [0.0, 1.0]], references=[0, 1])
    assert perfect["ece"] == pytest.approx(0.0)
    out = m.compute(probabilities=[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], references=[0, 1, 1])
    # bins: 0.9 (correct) -> gap 0.1; 0.8 (correct) -> gap 0.2; 0.6 (wrong) -> gap 0.6
    assert out["ece"] == pytest.approx((0.1 + 0.2 + 0.6) / 3)
    assert out["mce"] == pytest.approx(0.6)
    assert sum(b["count"] for b in out["bins"]) == 3


def test_unknown_metric_names_the_known_ones():
    with pytest.raises(ValueError, match="callin_classification"):
        metric_path("accuracy")


def test_an_evaluation_carries_a_fingerprint_of_its_reference_labels():
    """`callinkit release` compares two evaluations only on the same labelled split: a relabelled text keeps n
    but changes the fingerprint."""
    from callinkit.train.evaluation import classification_metrics

    probs = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]]
    labels = ["call_out", "call_in", "neutral"]
    first = classification_metrics(probs, [0, 1, 2], labels)
    assert first["n"] == 3 and first["references_sha256"] == classification_metrics(probs, [0, 1, 2], labels)["references_sha256"]
    relabelled = classification_metrics(probs, [0, 2, 2], labels)
    assert relabelled["n"] == 3 and relabelled["references_sha256"] != first["references_sha256"]


def test_rewrite_sta_counts_each_rows_target_label():
    """LABELS.md: a no-concern call-out (and a ParaDetox sentence) is rewritten as a neutral text, so STA there asks
    for neutral; without target labels every row asks for call_in, as J always did."""
    from callinkit.train.rewriter_eval import target_label

    m = load_metric("callin_rewrite")
    args = dict(predictions=["I don't agree with this", "could you check that stat?"],
                references=["I don't agree with this", "could you check that stat?"],
                output_labels=["neutral", "call_in"], similarities=[1.0, 1.0])
    assert m.compute(**args)["sta"] == pytest.approx(0.5) and m.compute(**args)["j"] == pytest.approx(0.5)
    targeted = m.compute(**args, target_labels=["neutral", "call_in"])
    assert targeted["sta"] == pytest.approx(1.0) and targeted["j"] == pytest.approx(1.0)
    assert m.compute(**args, target_labels=["call_in", "neutral"])["sta"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same length"):
        m.compute(**args, target_labels=["neutral"])
    assert target_label({"strategy": "no_concern"}) == "neutral" and target_label({"source": "paradetox"}) == "neutral"
    assert target_label({"strategy": "impact_statement", "source": "callin_corpus"}) == "call_in"
