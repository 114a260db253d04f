"""`python -m callinkit.train.compare`: two classifier bundles on the same rows, with paired bootstrap intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from callinkit.train.compare import main, paired_bootstrap, slice_metric

FIXTURE = Path(__file__).parent / "fixtures" / "classify_tiny.jsonl"


def test_slice_metric_is_macro_f1_over_the_labels_present_and_accuracy_for_one_label():
    from callinkit.metrics import load_metric

    rng = np.random.default_rng(1)
    truth, pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    assert abs(slice_metric(truth, pred, [0, 1, 2]) - f1_score(truth, pred, average="macro")) < 1e-12
    # the same figure as the project's own metric, also when a label is absent from the slice (CrowdCounter)
    two = np.where(truth == 2, 0, truth)
    project = load_metric("callin_classification").compute(predictions=pred.tolist(), references=two.tolist())
    assert abs(slice_metric(two, pred, [0, 1]) - project["macro_f1"]) < 1e-12
    assert slice_metric(np.zeros(4, int), np.array([0, 0, 1, 2]), [0]) == 0.5


def test_paired_bootstrap_finds_a_real_difference_and_none_between_equals():
    rng = np.random.default_rng(2)
    truth = rng.integers(0, 3, 400)
    worse = np.where(rng.random(400) < 0.3, (truth + 1) % 3, truth)  # 30% wrong
    better = np.where(rng.random(400) < 0.1, (truth + 1) % 3, truth)  # 10% wrong
    r = paired_bootstrap(truth, worse, better, resamples=300)
    assert r["delta"] > 0.1 and r["low"] > 0 and r["low"] <= r["delta"] <= r["high"]
    same = paired_bootstrap(truth, worse, worse, resamples=50)
    assert same["delta"] == same["low"] == same["high"] == 0.0


def test_cli_compares_two_bundles_on_a_file(tiny_bundle, tiny_bundle_int8, tmp_path, capsys):
    out = tmp_path / "cmp.json"
    assert main([str(tiny_bundle), str(tiny_bundle_int8), "--data", str(FIXTURE), "--resamples", "50",
                 "--out", str(out)]) == 0
    result = json.loads(out.read_text())["results"]["classify_tiny.jsonl"]
    assert result["n"] == sum(1 for _ in FIXTURE.open())
    assert result["low"] <= result["delta"] <= result["high"]
    assert "classify_tiny.jsonl" in capsys.readouterr().out
