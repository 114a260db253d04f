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
