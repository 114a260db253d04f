"""Training with several processes (`accelerate launch`, `torchrun`): who this process is, and the global batch.

The Trainer runs DDP by itself once a launcher has started the processes; what is ours is the run folder and
the batch. Only the main process (global rank 0) writes the run folder: checkpoints (the Trainer already saves
model, optimizer and scheduler from rank 0 only; each rank adds its own `rng_state_<rank>.pth`), `best/`,
stage `final/` folders, adapters, metrics, plots and `run_info.json`. A config's `batch_size` is the batch
per optimizer step summed over all processes, so one config gives the same optimisation on 1 or N processes:
each process takes `batch_size / N` examples.

The rank is read from the launcher's environment (torchrun and accelerate set RANK / WORLD_SIZE; MPI sets
PMI_* or OMPI_COMM_WORLD_*), since the recipes need it before the Trainer exists.
"""

from __future__ import annotations

import os

from callinkit.errors import CallinkitError

_RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
_SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def _first_int(names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = os.environ.get(name)
        if value not in (None, ""):
            return int(value)
    return default


def world_size() -> int:
    """Processes in this training job (1 without a launcher)."""
    return _first_int(_SIZE_VARS, 1)


def rank() -> int:
    """This process's global rank (0 without a launcher)."""
    return _first_int(_RANK_VARS, 0)


def is_main_process() -> bool:
    """True on the one process that writes the run folder."""
    return rank() == 0


def check_launch() -> None:
    """Fail when `accelerate launch` was asked for several processes but started only this one.

    On a machine without GPUs, `accelerate launch --num_processes N` (no config file) uses its "simple"
    launcher, which starts one process and expects mpirun to start the others; it still sets MASTER_ADDR /
    MASTER_PORT because N > 1. Training would then silently run on one process. Raises CallinkitError."""
    started_by_simple_launcher = "ACCELERATE_USE_CPU" in os.environ and "MASTER_ADDR" in os.environ
    if started_by_simple_launcher and world_size() == 1 and "LOCAL_RANK" not in os.environ:
        raise CallinkitError(
            "accelerate launch started 1 process, not the several asked for: without GPUs its default launcher "
            "expects mpirun to start the others. Use torchrun's launcher instead: `accelerate launch --config_file "
            "configs/accelerate/cpu.yaml -m callinkit train CONFIG` (2 processes; edit num_processes) or "
            "`accelerate launch --multi_gpu --num_processes N -m callinkit train CONFIG`, which on a machine "
            "without GPUs runs N CPU processes over gloo")


def per_process_batch(global_batch: int, what: str = "training.batch_size") -> int:
    """`global_batch` split over this job's processes. Raises CallinkitError when it does not divide."""
    n = world_size()
    if global_batch % n:
        lower = global_batch // n * n
        choices = " or ".join(str(b) for b in (lower, lower + n) if b > 0)
        raise CallinkitError(f"{what} ({global_batch}) is the batch per optimizer step summed over all processes, "
                             f"so it must be a multiple of the {n} processes of this launch; use {choices}")
    return global_batch // n


def check_trainer_world(args) -> None:
    """The Trainer must see as many processes as the environment said (a launcher we do not read would
    otherwise get the wrong per-process batch). Raises CallinkitError."""
    if args.world_size != world_size():
        raise CallinkitError(f"the Trainer runs {args.world_size} processes but the launcher's environment says "
                             f"{world_size()}; launch with accelerate launch or torchrun")
