"""Finding Trainer checkpoints, shared by the classifier and rewriter recipes' --resume."""

from __future__ import annotations

import os
from pathlib import Path

from callinkit.errors import TrainingInterrupted


def last_checkpoint(folder: Path) -> Path | None:
    """The newest Trainer `checkpoint-N` folder in `folder` (by step number), or None."""
    found = sorted(folder.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return found[-1] if found else None


def stop_on_signal_callback():
    """A TrainerCallback that turns SIGINT / SIGTERM into "save a checkpoint at the end of this step, then stop"
    (a second signal interrupts at once, as usual). The recipe raises TrainingInterrupted afterwards."""
    import signal

    from transformers import TrainerCallback

    class StopOnSignal(TrainerCallback):
        def __init__(self) -> None:
            self.received: str | None = None
            self.stopped = False  # the stop took effect (every process stopped after the same step)
            self._previous: dict[int, object] = {}

        def _handle(self, signum, frame) -> None:
            if self.received is not None:  # the second one: stop now
                previous = self._previous.get(signum)
                if callable(previous):
                    previous(signum, frame)
                raise KeyboardInterrupt
            self.received = signal.Signals(signum).name
            print(f"\n{self.received}: saving a checkpoint at the end of this step, then stopping "
                  "(send it again to stop at once)", flush=True)

        def on_train_begin(self, args, state, control, **kwargs):
            import threading

            if threading.current_thread() is threading.main_thread():
                for sig in (signal.SIGINT, signal.SIGTERM):
                    self._previous[sig] = signal.signal(sig, self._handle)

        def on_step_end(self, args, state, control, **kwargs):
            # Decide from the all-reduced flag alone. The handler runs at the first bytecode after a blocking C
            # call returns, i.e. often right after the all-reduce below: reading `self.received` again after
            # it would let this process stop after a step at which the others (told "nobody stops") go on, and
            # they would then wait for it forever in the next step's collectives. A signal that arrives after
            # the all-reduce is acted on one step later, by every process.
            if _any_process(self.received is not None, args.device):
                if self.received is None:
                    self.received = "a signal to another training process"
                self.stopped = True
                control.should_save = True
                control.should_training_stop = True

        def on_train_end(self, args, state, control, **kwargs):
            for sig, previous in self._previous.items():
                signal.signal(sig, previous)
            self._previous.clear()

    return StopOnSignal()


def _any_process(flag: bool, device) -> bool:
    """`flag` OR-ed over the processes of a multi-process run (itself with one process).

    Every process must stop after the same step: the signal reaches them at slightly different moments, and a
    process that went on alone would wait forever for the others in the next gradient all-reduce. One tiny
    all-reduce per step, beside DDP's own."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return flag
    import torch

    value = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def train_with_signals(trainer, checkpoint: Path | None, checkpoints_dir: Path):
    """`trainer.train(resume_from_checkpoint=...)` that saves and stops cleanly on SIGINT/SIGTERM."""
    stopper = stop_on_signal_callback()
    trainer.add_callback(stopper)
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if stopper.stopped:  # a signal after the last step's check changes nothing: the run is complete
        saved = last_checkpoint(checkpoints_dir)
        raise TrainingInterrupted(f"stopped by {stopper.received} at step {trainer.state.global_step}; checkpoint "
                                  f"saved in {saved}; continue with the same command and --resume")
    return result


def check_writable(folder: Path, need_bytes: int = 0) -> None:
    """Fail before training when `folder` cannot be written or its disk has less than `need_bytes` free."""
    import shutil
    import tempfile

    from callinkit.errors import CallinkitError

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise CallinkitError(f"cannot write to the run folder {folder} ({exc.strerror or exc}); choose another "
                             "run_dir (run_dir=... or --run-dir)") from None
    free = shutil.disk_usage(folder).free
    if need_bytes and free < need_bytes:
        raise CallinkitError(f"the disk holding {folder} has {free / 1e9:.1f} GB free; checkpoints of this run need "
                             f"about {need_bytes / 1e9:.1f} GB. Free space or choose another run_dir")


def checkpoint_bytes(model, keep: int = 2) -> int:
    """Rough disk need of a run: `keep` checkpoints of weights plus AdamW's two moments, and the best model."""
    params = sum(p.numel() for p in model.parameters())
    return int(params * 4 * (3 * keep + 1) * 1.1)


def write_text_atomic(path: Path, text: str) -> None:
    """Write `path` through a temporary file and a rename, so a reader sees the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
