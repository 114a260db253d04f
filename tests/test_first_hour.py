"""Stumbles a new user hit in the first hour: each is fixed and stays fixed."""

from __future__ import annotations

import pytest

from callinkit.cli import main


def test_a_mistyped_command_gets_did_you_mean(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["sugest", "hello"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown command 'sugest'" in err and "did you mean 'suggest'?" in err


def test_validate_config_fails_when_a_data_source_is_missing(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("task: classifier\ndata:\n  sources:\n    - {name: davidson, path: " + str(tmp_path / "nope")
                      + "}\n")
    assert main(["validate-config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "data.sources[0].path" in err and "does not exist" in err and "../shared/data" in err


def test_train_fails_on_missing_data_before_making_a_run_folder(tmp_path, capsys):
    run_dir = tmp_path / "run"
    config = tmp_path / "c.yaml"
    config.write_text(f"task: classifier\nrun_dir: {run_dir}\ndata:\n  sources:\n"
                      f"    - {{name: jsonl, path: {tmp_path / 'missing.jsonl'}}}\n")
    assert main(["train", str(config)]) == 2
    assert "missing.jsonl" in capsys.readouterr().err
    assert not run_dir.exists()


def test_validate_config_checks_rewriter_stage_sources(tmp_path, capsys):
    assert main(["validate-config", "configs/rewriter.yaml",
                 f"stages.0.sources.0.path={tmp_path / 'gone'}"]) == 2
    assert "stages[detox].sources[0].path" in capsys.readouterr().err


def test_models_have_a_readable_repr(tiny_bundle):
    from callinkit import Classifier, Rewriter

    assert repr(Classifier.load(tiny_bundle)).startswith("Classifier(")
    text = repr(Rewriter.load())  # the shipped rewriter
    assert text.startswith(("Rewriter(", "LMRewriter(")) and "object at 0x" not in text


def test_the_quickstart_time_is_the_same_everywhere():
    import re
    from pathlib import Path

    from callinkit.cli import EPILOG

    readme = Path("README.md").read_text()
    config = Path("configs/quickstart.yaml").read_text()
    said = {re.search(r"about (\d+) minutes", text).group(1) for text in (
        readme[readme.index("## Train your own"):], config, EPILOG[EPILOG.index("quickstart"):])}
    assert len(said) == 1, said


def test_the_readme_names_no_bundle_folder_that_nothing_creates():
    import re
    from pathlib import Path

    readme = Path("README.md").read_text()
    created = set(re.findall(r"callinkit export \S+ (bundles/[\w./-]+)", readme))
    named = set(re.findall(r"(bundles/[\w-]+)", readme))
    assert named <= {b.rstrip("/.") for b in created} | {"bundles/mine"}, named - created
