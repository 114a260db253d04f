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
    assert sum(info["data"]["train_source_counts"].values()) == 27
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
    # A finished run: resuming from its final checkpoint would train a step past max_steps.
    with pytest.raises(CallinkitError, match=r"already finished \(40 of 40 steps.*nothing to resume"):
        train(config, run_dir=tiny_run, resume=True)


def test_sampling_balances_classes():
    import datasets

    from callinkit.train.classifier import balance_by_oversampling, class_weights

    ds = datasets.Dataset.from_dict({"label": [0] * 6 + [1] * 2 + [2] * 3})
    balanced = balance_by_oversampling(ds, seed=0)
    assert sorted(balanced["label"]).count(1) == 6 and sorted(balanced["label"]).count(2) == 6
    w = class_weights([0] * 6 + [1] * 2 + [2] * 3, 3)
    assert w[1] > w[2] > w[0] and abs(w.mean() - 1) < 1e-9


def test_source_balance_resamples_by_source():
    from collections import Counter

    import datasets
    import pytest

    from callinkit.errors import ConfigError
    from callinkit.train.classifier import balance_sources

    ds = datasets.Dataset.from_dict({"source": ["a"] * 8 + ["b"] * 2, "label": [0] * 8 + [1, 2],
                                     "text": [f"t{i}" for i in range(10)]})
    assert balance_sources(ds, 0.0, seed=0) is ds
    equal = balance_sources(ds, 1.0, seed=0)
    assert Counter(equal["source"]) == {"a": 5, "b": 5}
    assert len(set(equal["text"])) == 5 + 2  # a: 5 of its 8 rows, once each; b: both rows, repeated
    half = balance_sources(ds, 0.5, seed=0)  # shares sqrt(8) : sqrt(2) = 2 : 1 of 10 rows
    assert Counter(half["source"]) == {"a": 7, "b": 3}
    assert half["text"] == balance_sources(ds, 0.5, seed=0)["text"]  # seeded
    original = {row["text"]: (row["source"], row["label"]) for row in ds}
    assert all(original[row["text"]] == (row["source"], row["label"]) for row in equal)  # rows stay whole
    with pytest.raises(ConfigError, match="source_balance"):
        config_from_dict({"task": "classifier", "training": {"source_balance": 1.5}})


def test_sigterm_saves_a_checkpoint_and_resume_ends_like_an_uninterrupted_run(tiny_base, tiny_run, tmp_path,
                                                                              monkeypatch):
    import os
    import signal

    import pytest
    from transformers import TrainerCallback

    from callinkit.errors import TrainingInterrupted
    from callinkit.train import classifier as recipe

    class KillAtStep13(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 13 and not getattr(self, "sent", False):
                self.sent = True
                os.kill(os.getpid(), signal.SIGTERM)  # what `kill PID` or a scheduler's preemption sends

    make = recipe.make_trainer

    def make_with_kill(s):
        trainer = make(s)
        trainer.add_callback(KillAtStep13())
        return trainer

    run_dir = tmp_path / "killed"
    config = config_from_dict(tiny_classifier_config(tiny_base, run_dir))
    monkeypatch.setattr(recipe, "make_trainer", make_with_kill)
    handler_before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(TrainingInterrupted, match=r"SIGTERM at step 13.*--resume"):
        recipe.train(config, run_dir=run_dir)
    assert (run_dir / "checkpoints" / "checkpoint-13").is_dir()  # saved at the step the signal came
    assert not (run_dir / "best").exists()
    assert signal.getsignal(signal.SIGTERM) is handler_before  # the recipe's handler is gone again

    monkeypatch.setattr(recipe, "make_trainer", make)
    recipe.train(config, run_dir=run_dir, resume=True)
    # Tolerance: the resumed run restores weights, optimizer, scheduler, RNG and data order, so on CPU its final
    # metrics equal the uninterrupted run's (same seed) to float rounding.
    resumed = json.loads((run_dir / "metrics" / "test.json").read_text())
    reference = json.loads((tiny_run / "metrics" / "test.json").read_text())
    assert resumed["confusion_matrix"] == reference["confusion_matrix"]
    assert abs(resumed["macro_f1"] - reference["macro_f1"]) < 1e-6
    final = [h for h in json.loads((run_dir / "log_history.json").read_text()) if "eval_loss" in h][-1]
    final_ref = [h for h in json.loads((tiny_run / "log_history.json").read_text()) if "eval_loss" in h][-1]
    assert abs(final["eval_loss"] - final_ref["eval_loss"]) < 1e-4


def test_an_unwritable_run_folder_fails_before_training(tiny_base, tmp_path):
    import pytest

    from callinkit.errors import CallinkitError
    from callinkit.train.classifier import train

    blocker = tmp_path / "a_file"  # a run_dir inside a file cannot be created, even by root
    blocker.write_text("x")
    config = config_from_dict(tiny_classifier_config(tiny_base, blocker / "run"))
    with pytest.raises(CallinkitError, match="cannot write to the run folder"):
        train(config)


def test_a_full_disk_fails_before_training(tiny_base, tmp_path, monkeypatch):
    import shutil as shutil_mod
    from collections import namedtuple

    import pytest

    from callinkit.errors import CallinkitError
    from callinkit.train.classifier import train

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil_mod, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    config = config_from_dict(tiny_classifier_config(tiny_base, tmp_path / "run"))
    with pytest.raises(CallinkitError, match="GB free; checkpoints of this run need"):
        train(config)
    assert not (tmp_path / "run" / "checkpoints").exists()
