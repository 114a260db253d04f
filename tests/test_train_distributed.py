"""Who a training process is under a launcher, the global batch, and the one-process accelerate trap (fast:
environment only; tests/test_train_accelerate.py launches real processes)."""

import pytest

from callinkit.errors import CallinkitError
from callinkit.train import distributed

LAUNCH_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK",
               "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
               "ACCELERATE_USE_CPU")


@pytest.fixture
def env(monkeypatch):
    for name in LAUNCH_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_a_launcher_this_is_the_only_process(env):
    assert (distributed.world_size(), distributed.rank(), distributed.is_main_process()) == (1, 0, True)
    assert distributed.per_process_batch(32) == 32
    distributed.check_launch()


def test_torchrun_and_mpi_ranks(env):
    env.setenv("RANK", "1")
    env.setenv("WORLD_SIZE", "2")
    env.setenv("LOCAL_RANK", "1")
    assert (distributed.world_size(), distributed.rank(), distributed.is_main_process()) == (2, 1, False)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.delenv(name)
    env.setenv("OMPI_COMM_WORLD_RANK", "0")
    env.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert (distributed.world_size(), distributed.is_main_process()) == (4, True)


def test_batch_size_is_global_and_must_divide(env):
    env.setenv("WORLD_SIZE", "4")
    assert distributed.per_process_batch(32) == 8
    with pytest.raises(CallinkitError, match=r"training.batch_size \(30\).*multiple of the 4 processes.*use 28 or 32"):
        distributed.per_process_batch(30)
    with pytest.raises(CallinkitError, match="use 4$"):
        distributed.per_process_batch(2, "stages.callin.batch_size")


def test_accelerates_one_process_cpu_launch_is_refused(env):
    # What `accelerate launch --num_processes 2` sets on a machine without GPUs: its simple launcher starts one
    # process (expecting mpirun for the rest) but sets the rendezvous address because 2 were asked for.
    env.setenv("ACCELERATE_USE_CPU", "False")
    env.setenv("MASTER_ADDR", "127.0.0.1")
    env.setenv("MASTER_PORT", "29500")
    with pytest.raises(CallinkitError, match="started 1 process.*configs/accelerate/cpu.yaml"):
        distributed.check_launch()
    env.setenv("WORLD_SIZE", "2")  # the same variables with a real multi-process launch: fine
    env.setenv("RANK", "0")
    distributed.check_launch()


def test_trainer_must_see_the_launchers_world(env):
    class Args:
        world_size = 2

    with pytest.raises(CallinkitError, match="the Trainer runs 2 processes"):
        distributed.check_trainer_world(Args())


def _step_end(stopper, step):
    from types import SimpleNamespace

    from transformers import TrainerControl

    control = TrainerControl()
    stopper.on_step_end(SimpleNamespace(device="cpu"), SimpleNamespace(global_step=step), control)
    return control.should_training_stop, control.should_save


def test_a_signal_during_the_stop_all_reduce_is_acted_on_one_step_later_by_every_process(monkeypatch):
    """Python runs a signal handler at the first bytecode after a blocking C call returns, often right after
    the per-step all-reduce of the stop flag. This process must not stop alone after that step: the others were
    told that nobody stops, and would wait for it in the next step's collectives forever."""
    import signal

    from callinkit.train import checkpoints

    stopper = checkpoints.stop_on_signal_callback()
    others = {"stop": False}

    def all_reduce_while_the_signal_lands(flag, device):
        if not stopper.received:
            stopper._handle(signal.SIGINT, None)  # lands while the collective is in flight
        return flag or others["stop"]

    monkeypatch.setattr(checkpoints, "_any_process", all_reduce_while_the_signal_lands)
    assert _step_end(stopper, 100) == (False, False)  # the others go on, so this one does too
    assert stopper.received == "SIGINT" and not stopper.stopped
    assert _step_end(stopper, 101) == (True, True)  # its flag now goes into the all-reduce: everyone stops
    assert stopper.stopped


def test_a_signal_to_another_process_stops_this_one_after_the_same_step(monkeypatch):
    from callinkit.train import checkpoints

    stopper = checkpoints.stop_on_signal_callback()
    monkeypatch.setattr(checkpoints, "_any_process", lambda flag, device: False)
    assert _step_end(stopper, 7) == (False, False) and stopper.received is None
    monkeypatch.setattr(checkpoints, "_any_process", lambda flag, device: True)
    assert _step_end(stopper, 8) == (True, True)
    assert stopper.received == "a signal to another training process" and stopper.stopped
