"""The classifier recipe on a tiny model: loss falls, the run folder is complete, resume continues."""

import json
import shutil

from conftest import tiny_classifier_config

from callinkit.config import config_from_dict

PNG = b"\x89PNG\r\n\x1a\n"


def _losses(run_dir):
    history = json.loads((run_dir / "log_history.json").read_text())
    return [(h["step"], h["loss"]) for h in history if "loss" in h]


def test_tiny_training_loss_falls(tiny_run):
    losses = _losses(tiny_run)
    assert len(losses) >= 6
    first = sum(loss for _, loss in losses[:2]) / 2
    last = sum(loss for _, loss in losses[-2:]) / 2
    assert last < first * 0.9, losses


def test_run_folder_holds_config_metrics_plots_and_best_checkpoint(tiny_run):
    for name in ("config.yaml", "confusion_matrix.json", "run_info.json", "best/config.json",
                 "best/model.safetensors", "best/tokenizer.json", "metrics/validation.json", "metrics/test.json"):
        assert (tiny_run / name).is_file(), name
    for png in ("confusion_matrix.png", "loss_curve.png"):
        assert (tiny_run / png).read_bytes()[:8] == PNG
    cm = json.loads((tiny_run / "confusion_matrix.json").read_text())
    assert cm["labels"] == ["call_out", "call_in", "neutral"]
    test = json.loads((tiny_run / "metrics/test.json").read_text())
    assert sum(map(sum, cm["matrix"])) == test["n"] == 7  # the fixture has 7 test rows
    info = json.loads((tiny_run / "run_info.json").read_text())
    assert info["data"]["rows"]["train"] == 27 and info["training"]["steps"] == 40
    assert info["base_model"]["source"] == "local folder"
    assert 0.25 <= info["temperature"] <= 8


def test_resume_continues_from_the_last_checkpoint(tiny_base, tiny_run, tmp_path):
    from callinkit.train.classifier import train

    run_dir = tmp_path / "resumed"
    shutil.copytree(tiny_run, run_dir)
    # Simulate a run that died after step 20: drop what came later.
    shutil.rmtree(run_dir / "checkpoints" / "checkpoint-40")
    shutil.rmtree(run_dir / "best")
    config = config_from_dict(tiny_classifier_config(tiny_base, tiny_run))
    train(config, run_dir=run_dir, resume=True)
    steps = [step for step, _ in _losses(run_dir)]
    # The resumed Trainer starts at step 20: its history has steps 25..40, nothing earlier re-logged twice.
    assert steps == sorted(set(steps)) and steps[-1] == 40
    assert json.loads((run_dir / "run_info.json").read_text())["training"]["steps"] == 40
    assert (run_dir / "best" / "model.safetensors").is_file()


def test_resume_without_checkpoint_and_rerun_into_used_folder_are_refused(tiny_base, tiny_run, tmp_path):
    import pytest

    from callinkit.errors import CallinkitError
    from callinkit.train.classifier import train

    config = config_from_dict(tiny_classifier_config(tiny_base, tmp_path / "empty"))
    with pytest.raises(CallinkitError, match="no checkpoint to resume from"):
        train(config, resume=True)
    with pytest.raises(CallinkitError, match="already has checkpoints; pass --resume"):
        train(config, run_dir=tiny_run)


def test_sampling_balances_classes():
    import datasets

    from callinkit.train.classifier import balance_by_oversampling, class_weights

    ds = datasets.Dataset.from_dict({"label": [0] * 6 + [1] * 2 + [2] * 3})
    balanced = balance_by_oversampling(ds, seed=0)
    assert sorted(balanced["label"]).count(1) == 6 and sorted(balanced["label"]).count(2) == 6
    w = class_weights([0] * 6 + [1] * 2 + [2] * 3, 3)
    assert w[1] > w[2] > w[0] and abs(w.mean() - 1) < 1e-9
