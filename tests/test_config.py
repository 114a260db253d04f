from pathlib import Path

import pytest

from callinkit.config import ClassifierConfig, config_from_dict, config_to_yaml, load_config
from callinkit.configlib import apply_overrides
from callinkit.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
ACCELERATE_CONFIGS = sorted((REPO / "configs" / "accelerate").glob("*.yaml"))
CONFIGS = sorted(set((REPO / "configs").rglob("*.yaml")) - set(ACCELERATE_CONFIGS))  # callinkit run configs


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_config_is_valid_and_says_how_to_run_it(path):
    config = load_config(str(path))
    first = path.read_text().splitlines()[0]
    assert first.startswith("# Run: callinkit train ") and str(path.relative_to(REPO)) in first
    assert config.task in ("classifier", "rewriter", "rewriter_lm")


def test_configs_folder_is_not_empty():
    assert {p.name for p in CONFIGS} >= {"classifier.yaml", "quickstart.yaml"}
    assert {p.name for p in ACCELERATE_CONFIGS} == {"cpu.yaml", "multi_gpu.yaml", "multi_node.yaml"}


@pytest.mark.parametrize("path", ACCELERATE_CONFIGS, ids=lambda p: str(p.relative_to(REPO)))
def test_accelerate_configs_load_in_accelerate_and_say_how_to_run(path):
    """configs/accelerate/: accelerate's own loader reads them (it refuses unknown keys), each starts with the
    command that uses it on a shipped callinkit config, and each launches through torchrun (MULTI_GPU)."""
    pytest.importorskip("accelerate")
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils import DistributedType

    cluster = load_config_from_file(str(path))
    first = path.read_text().splitlines()[0]
    prefix = f"# Run: accelerate launch --config_file {path.relative_to(REPO)} "
    assert first.startswith(prefix) and " -m callinkit train configs/" in first, first
    assert (REPO / first.split(" -m callinkit train ")[1].split()[0]).is_file()
    # MULTI_CPU would start one process and wait for mpirun (see configs/accelerate/cpu.yaml).
    assert cluster.distributed_type == DistributedType.MULTI_GPU
    assert cluster.num_processes >= 2 * cluster.num_machines >= 2
    if cluster.num_machines > 1:
        assert cluster.main_process_ip and cluster.main_process_port and "--machine_rank" in first


def test_all_problems_are_reported_together_with_did_you_mean():
    bad = {
        "task": "classifier",
        "modle": {},
        "training": {"lerning_rate": 1e-4, "epochs": -1, "batch_size": "32", "imbalance": "clas_weights"},
        "export": {"quantize": "int4"},
    }
    with pytest.raises(ConfigError) as info:
        config_from_dict(bad, "bad.yaml")
    problems = info.value.problems
    text = str(info.value)
    assert len(problems) == 6, problems
    assert "modle: unknown key (did you mean 'model'?)" in problems
    assert "training.lerning_rate: unknown key (did you mean 'learning_rate'?)" in problems
    assert "training.epochs: must be > 0, got -1.0" in problems
    assert "training.batch_size: expected an integer, got '32'" in problems
    assert any("training.imbalance" in p and "did you mean 'class_weights'" in p for p in problems)
    assert any("export.quantize" in p and "'int4'" in p for p in problems)
    assert "bad.yaml" in text


def test_cross_field_rules():
    with pytest.raises(ConfigError) as info:
        config_from_dict({"training": {"eval_steps": 30, "save_steps": 50},
                          "data": {"sources": [{"name": "csv"}]}})
    assert "training.save_steps (50) must be a multiple of eval_steps (30)" in info.value.problems
    assert any(p.startswith("data.sources[0].path: source 'csv' needs a path") for p in info.value.problems)


def test_config_is_frozen_and_typed():
    config = config_from_dict({"training": {"learning_rate": "5e-5", "epochs": 2}})
    assert isinstance(config, ClassifierConfig)
    assert config.training.learning_rate == 5e-5  # YAML reads 5e-5 as a string; it is accepted as a number
    assert config.training.epochs == 2.0
    with pytest.raises(AttributeError):
        config.training.epochs = 3  # type: ignore[misc]


def test_overrides_set_nested_keys_and_list_items():
    data = {"training": {"epochs": 3}, "data": {"sources": [{"name": "callin_corpus"}]}}
    out = apply_overrides(data, ["training.epochs=1", "data.sources.0.weight=0.5", "model.max_length=64"])
    assert out["training"]["epochs"] == 1 and data["training"]["epochs"] == 3
    assert out["data"]["sources"][0]["weight"] == 0.5
    config = config_from_dict(out)
    assert config.model.max_length == 64 and config.data.sources[0].weight == 0.5


def test_bad_overrides_are_config_errors():
    with pytest.raises(ConfigError) as info:
        apply_overrides({"data": {"sources": []}}, ["novalue", "data.sources.3.weight=1", "x=[unclosed"])
    assert len(info.value.problems) == 3


def test_override_typo_is_caught_by_validation(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("task: classifier\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(path), ["training.epoch=2"])
    assert info.value.problems == ["training.epoch: unknown key (did you mean 'epochs'?)"]


def test_unknown_task_and_missing_file():
    with pytest.raises(ConfigError, match="unknown task 'clasifier'.*did you mean 'classifier'"):
        config_from_dict({"task": "clasifier"})
    with pytest.raises(ConfigError, match="config file not found"):
        load_config("/nonexistent/config.yaml")


def test_merged_config_round_trips_through_yaml():
    import yaml

    config = config_from_dict({"training": {"epochs": 1}, "data": {"sources": [{"name": "callin_corpus"}]}})
    again = config_from_dict(yaml.safe_load(config_to_yaml(config)))
    assert again == config
