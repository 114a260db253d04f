"""Training with several processes: `accelerate launch` starts 2 CPU processes (DDP over gloo) on tiny models.

A config's batch_size is the batch per optimizer step summed over the processes, so a 2-process run must take
the steps a 1-process run takes. With dropout off and a training set that divides into the global batch (so
accelerate pads no last batch), every logged training and validation loss of the 2-process run equals the
1-process run's within 1e-4, the final metrics within 1e-3 (same confusion matrices) and every weight
within 1e-3. Only rank 0 writes the
run folder, except the `rng_state_1.pth` the Trainer has each rank put in its checkpoints; a 2-process
`--resume` from the middle checkpoint ends where the uninterrupted run did.

Each launch is a real `accelerate launch --config_file configs/accelerate/cpu.yaml -m callinkit train`,
with tests/write_audit/sitecustomize.py recording every file each rank writes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import tiny_classifier_config, tiny_lm_config

from callinkit.config import config_from_dict

pytestmark = pytest.mark.slow  # eight training runs, six of them 2-process launches: about 2 minutes

REPO = Path(__file__).resolve().parents[1]
CPU_CONFIG = REPO / "configs" / "accelerate" / "cpu.yaml"
AUDIT = Path(__file__).parent / "write_audit"
ACCELERATE = Path(sys.executable).parent / "accelerate"
LOSS_TOL = 1e-4
WEIGHT_TOL = 1e-3


def launch_command(config: Path, *args: str) -> list[str]:
    """`accelerate launch --config_file configs/accelerate/cpu.yaml -m callinkit train CONFIG ARGS...`."""
    return [str(ACCELERATE), "launch", "--config_file", str(CPU_CONFIG), "-m", "callinkit", "train", str(config),
            *args]


def launch_env(audit: Path) -> dict[str, str]:
    audit.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "CALLINKIT_WRITE_AUDIT": str(audit), "CUDA_VISIBLE_DEVICES": "",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(AUDIT), os.environ.get("PYTHONPATH")]))}


def launch(config: Path, *args: str, audit: Path) -> None:
    proc = subprocess.run(launch_command(config, *args), env=launch_env(audit), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]


def written(audit: Path, rank: int, under: Path) -> set[str]:
    """Paths under `under` (relative) that `rank` wrote, created, renamed or removed."""
    log = audit / f"rank-{rank}.log"
    assert log.is_file(), f"rank {rank} left no audit log: was it started?"
    root = str(under.resolve())
    return {os.path.relpath(line.split("\t", 1)[1], root) for line in log.read_text().splitlines()
            if line.split("\t", 1)[1].startswith(root + os.sep)}


def losses(history_file: Path) -> tuple[list[tuple[int, float, float]], list[tuple[int, float]]]:
    history = json.loads(history_file.read_text())
    train = [(h["step"], h["epoch"], h["loss"]) for h in history if "loss" in h]
    evals = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    return train, evals


def assert_same_losses(one: Path, two: Path) -> None:
    (train1, eval1), (train2, eval2) = losses(one), losses(two)
    assert [s for s, _, _ in train1] == [s for s, _, _ in train2] and len(train1) >= 8
    # Same epochs at the same steps: the global batch, not the per-process one, is batch_size.
    assert [e for _, e, _ in train1] == pytest.approx([e for _, e, _ in train2])
    assert [loss for *_, loss in train2] == pytest.approx([loss for *_, loss in train1], abs=LOSS_TOL)
    assert [s for s, _ in eval1] == [s for s, _ in eval2] and eval1
    assert [loss for _, loss in eval2] == pytest.approx([loss for _, loss in eval1], abs=LOSS_TOL)
    # Training moved: the comparison is not of two untouched models.
    first, last = (sum(loss for *_, loss in part) / 3 for part in (train1[:3], train1[-3:]))
    assert last < first - 0.03, (first, last)


def assert_same_weights(one: Path, two: Path) -> None:
    from safetensors.numpy import load_file

    a, b = load_file(str(one)), load_file(str(two))
    assert a.keys() == b.keys()
    worst = max(float(abs(a[k] - b[k]).max()) for k in a)
    # Summation order differs between one process and gloo's all-reduce; Adam turns those last-bit gradient
    # differences into weight differences of up to a few 1e-4 at these learning rates (one step moves a
    # weight by up to the learning rate, 1e-2 or 3e-3 here).
    assert worst < WEIGHT_TOL, worst


def assert_only_rank0_writes(audit: Path, run_dir: Path, expected_rank0: set[str]) -> None:
    rank0, rank1 = written(audit, 0, run_dir), written(audit, 1, run_dir)
    assert expected_rank0 <= rank0, expected_rank0 - rank0  # the audit sees writes (so it can fail)

    def per_rank(path: str) -> bool:
        """The Trainer's own per-rank part of a checkpoint: the folder (made by every rank) and its RNG state."""
        p = Path(path)
        return p.name.startswith("checkpoint-") or (p.parent.name.startswith("checkpoint-")
                                                     and p.name == "rng_state_1.pth")

    assert [p for p in sorted(rank1) if not per_rank(p)] == []
    assert any(p.endswith("rng_state_1.pth") for p in rank1)  # rank 1 ran, and its writes were recorded


def resume_from_middle(run_dir: Path, copy: Path, last_checkpoint: Path, outputs: list[str]) -> None:
    """`copy`: the run as if killed after the middle checkpoint (later checkpoint and outputs removed)."""
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / last_checkpoint)
    for name in outputs:
        target = copy / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()


@pytest.fixture(scope="module")
def tiny_base_no_dropout(tiny_base, tmp_path_factory) -> Path:
    """The tiny BERT with dropout off, so two runs differ only in how the batch is split."""
    out = tmp_path_factory.mktemp("tiny-bert-no-dropout")
    shutil.copytree(tiny_base, out, dirs_exist_ok=True)
    config = json.loads((out / "config.json").read_text())
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (out / "config.json").write_text(json.dumps(config))
    return out


def test_classifier_on_two_processes_matches_one_and_resumes(tiny_base_no_dropout, tmp_path):
    from callinkit.train.classifier import train

    config = tiny_classifier_config(tiny_base_no_dropout, tmp_path / "two", max_steps=18, logging_steps=1,
                                    eval_steps=9, save_steps=9, batch_size=8, learning_rate=1e-2)
    config["data"]["max_train_examples"] = 24  # 3 global batches of 8 per epoch, 4 per process
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(config))

    one = tmp_path / "one"
    train(config_from_dict(config), run_dir=one)  # the reference: one process, batches of 8
    launch(config_file, audit=tmp_path / "audit")
    two = tmp_path / "two"

    assert json.loads((two / "run_info.json").read_text())["training"]["processes"] == 2
    assert json.loads((one / "run_info.json").read_text())["training"]["processes"] == 1
    assert_same_losses(one / "log_history.json", two / "log_history.json")
    for split in ("validation", "test"):
        m1, m2 = (json.loads((run / "metrics" / f"{split}.json").read_text()) for run in (one, two))
        assert m2["macro_f1"] == pytest.approx(m1["macro_f1"], abs=1e-3)
        assert m2["confusion_matrix"] == m1["confusion_matrix"]
    assert_same_weights(one / "best" / "model.safetensors", two / "best" / "model.safetensors")
    assert_only_rank0_writes(tmp_path / "audit", two, {
        "config.yaml", "best/model.safetensors", "checkpoints/checkpoint-18/optimizer.pt",
        "checkpoints/checkpoint-18/model.safetensors", "checkpoints/checkpoint-18/rng_state_0.pth",
        "loss_curve.png", "confusion_matrix.png", "metrics/test.json", "run_info.json"})

    resumed = tmp_path / "resumed"
    resume_from_middle(two, resumed, Path("checkpoints/checkpoint-18"),
                       ["best", "metrics", "log_history.json", "run_info.json", "loss_curve.png"])
    launch(config_file, "--run-dir", str(resumed), "--resume", audit=tmp_path / "audit-resume")
    assert_same_losses(two / "log_history.json", resumed / "log_history.json")
    assert_same_weights(two / "best" / "model.safetensors", resumed / "best" / "model.safetensors")
    assert_only_rank0_writes(tmp_path / "audit-resume", resumed, {"best/model.safetensors", "run_info.json"})


def test_rewriter_lm_on_two_processes_matches_one_and_resumes(tiny_lm_base, tmp_path):
    from callinkit.train.rewriter_lm import train

    config = tiny_lm_config(tiny_lm_base, tmp_path / "two", steps=8)
    # 10 training pairs: global batches of 2 (1 per process) divide them; length-grouped batches stay on.
    config["stages"][0].update(batch_size=2, logging_steps=1, eval_steps=4, save_steps=4)
    config_file = tmp_path / "tiny-lm.yaml"
    config_file.write_text(yaml.safe_dump(config))

    one = tmp_path / "one"
    train(config_from_dict(config), run_dir=one)
    launch(config_file, audit=tmp_path / "audit")
    two = tmp_path / "two"

    stage = Path("stages/0-callin")
    assert_same_losses(one / stage / "log_history.json", two / stage / "log_history.json")
    assert_same_weights(one / "best" / "model.safetensors", two / "best" / "model.safetensors")
    info1, info2 = (json.loads((run / stage / "stage_info.json").read_text()) for run in (one, two))
    assert info2["final_eval_loss"] == pytest.approx(info1["final_eval_loss"], abs=LOSS_TOL)
    assert len((two / stage / "samples.jsonl").read_text().splitlines()) == 2  # the 2 validation pairs
    assert_only_rank0_writes(tmp_path / "audit", two, {
        "config.yaml", "best/model.safetensors", f"{stage}/final/model.safetensors", f"{stage}/samples.jsonl",
        f"{stage}/loss_curve.png", f"{stage}/stage_info.json", f"{stage}/checkpoints/checkpoint-8/optimizer.pt",
        "run_info.json"})

    resumed = tmp_path / "resumed"
    resume_from_middle(two, resumed, stage / "checkpoints/checkpoint-8",
                       ["best", "run_info.json", f"{stage}/final", f"{stage}/stage_info.json",
                        f"{stage}/log_history.json", f"{stage}/samples.jsonl"])
    launch(config_file, "--run-dir", str(resumed), "--resume", audit=tmp_path / "audit-resume")
    info = json.loads((resumed / stage / "stage_info.json").read_text())
    assert info["resumed_from"].endswith("checkpoint-4") and info["steps"] == 8
    assert_same_losses(two / stage / "log_history.json", resumed / stage / "log_history.json")
    assert_same_weights(two / "best" / "model.safetensors", resumed / "best" / "model.safetensors")
    assert_only_rank0_writes(tmp_path / "audit-resume", resumed, {"best/model.safetensors", "run_info.json"})


def rank_process(launcher: int, rank: int):
    """The training process of `rank` among the launcher's descendants."""
    import psutil

    for child in psutil.Process(launcher).children(recursive=True):
        try:
            if child.environ().get("RANK") == str(rank) and "callinkit" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    raise AssertionError(f"no process of rank {rank} under {launcher}")


def test_a_signal_to_one_process_stops_both_after_the_same_step_and_resume_finishes(tiny_base_no_dropout,
                                                                                     tmp_path):
    """SIGINT to rank 0 alone (the extreme of a signal reaching the processes at different moments): both
    processes save one checkpoint after the same step and exit, where rank 1 alone would go on into an
    all-reduce nobody answers; --resume then ends where an uninterrupted run does."""
    from callinkit.train.classifier import train

    config = tiny_classifier_config(tiny_base_no_dropout, tmp_path / "two", max_steps=400, logging_steps=10,
                                    eval_steps=50, save_steps=100, batch_size=8)
    config["data"]["max_train_examples"] = 24
    config_file = tmp_path / "tiny.yaml"
    config_file.write_text(yaml.safe_dump(config))
    two, checkpoints = tmp_path / "two", tmp_path / "two" / "checkpoints"

    proc = subprocess.Popen(launch_command(config_file), env=launch_env(tmp_path / "audit"), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (checkpoints / "checkpoint-100").is_dir() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    rank_process(proc.pid, 0).send_signal(signal.SIGINT)
    try:
        output = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:  # rank 1 hung in an all-reduce: stop the launch and its processes
            import psutil

            for child in psutil.Process(proc.pid).children(recursive=True):
                child.kill()
            proc.kill()
            proc.communicate()
    stopped = [line for line in output.splitlines() if "callinkit train: stopped by" in line]
    assert proc.returncode != 0 and len(stopped) == 2, output[-4000:]
    assert any("stopped by SIGINT" in line for line in stopped)
    assert any("stopped by a signal to another training process" in line for line in stopped)
    steps = {line.split(" at step ")[1].split(";")[0] for line in stopped}
    assert len(steps) == 1, stopped  # the same step on both processes
    step = int(steps.pop())
    assert 100 <= step < 400 and (checkpoints / f"checkpoint-{step}" / "rng_state_1.pth").is_file(), stopped

    launch(config_file, "--resume", audit=tmp_path / "audit-resume")
    one = tmp_path / "one"
    train(config_from_dict(config), run_dir=one)
    (train1, eval1), (train2, eval2) = losses(one / "log_history.json"), losses(two / "log_history.json")
    assert json.loads((two / "run_info.json").read_text())["training"]["steps"] == 400
    # The logged loss of the window the stop cut in two averages fewer steps; every other one is the same.
    cut = {s for s, *_ in train1 if s - 10 < step < s}
    kept1, kept2 = ([(s, loss) for s, _, loss in history if s not in cut] for history in (train1, train2))
    assert [s for s, _ in kept2] == [s for s, _ in kept1] and len(kept1) >= 38
    assert [loss for _, loss in kept2] == pytest.approx([loss for _, loss in kept1], abs=LOSS_TOL)
    # 400 steps on 24 rows over-fit (validation loss 0.9 -> 2.2), which magnifies last-bit differences a little.
    assert [loss for _, loss in eval2] == pytest.approx([loss for _, loss in eval1], rel=1e-3)
    assert_same_weights(one / "best" / "model.safetensors", two / "best" / "model.safetensors")
