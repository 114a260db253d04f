"""The CLI: help a new user can follow, and user mistakes as one-line errors without tracebacks."""

import json
import subprocess
import sys

import pytest

from callinkit.cli import main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("train", "export", "eval", "predict", "validate-config"):
        assert command in out
    assert "callinkit train configs/quickstart.yaml" in out


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "callinkit", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("callinkit ")


@pytest.mark.parametrize("argv, message", [
    (["train", "does/not/exist.yaml"], "config file not found: does/not/exist.yaml"),
    (["validate-config", "configs/quickstart.yaml", "training.epoks=1"], "did you mean 'epochs'"),
    (["export", "no/such/run", "out"], "run folder not found or not a run (no config.yaml): no/such/run"),
    (["predict", "--bundle", "no/such/bundle", "hi"], "bundle folder not found: no/such/bundle"),
    (["eval", "no/such/bundle", "data.jsonl"], "is neither a bundle (manifest.json) nor a checkpoint"),
])
def test_user_mistakes_are_one_clear_error(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_error_message_is_written_whole_in_one_write(monkeypatch):
    """Two training processes share one stderr; a line written in pieces ran into the other's (CI, session 9)."""
    writes = []

    class Recorder:
        def write(self, text):
            writes.append(text)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stderr", Recorder())
    assert main(["train", "does/not/exist.yaml"]) == 2
    assert len(writes) == 1 and writes[0].endswith("\n"), writes
    assert writes[0].startswith("callinkit train: error:") and "config file not found" in writes[0]


def test_bad_yaml_is_a_config_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: classifier\ntraining: [unclosed\n")
    assert main(["validate-config", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_predict_and_eval_on_a_bundle(tiny_bundle, tmp_path, capsys):
    from conftest import FIXTURES

    assert main(["predict", "--bundle", str(tiny_bundle), "--json", "one", "two"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == ["one", "two"] and lines[0]["label"] in lines[0]["scores"]
    out = tmp_path / "eval.json"
    assert main(["eval", str(tiny_bundle), str(FIXTURES / "classify_tiny.jsonl"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "macro_f1" in printed and "classify_tiny.jsonl" in printed
    result = json.loads(out.read_text())["results"]["classify_tiny.jsonl"]
    assert result["n"] == 42 and 0 <= result["macro_f1"] <= 1


def test_eval_rejects_unknown_labels(tiny_bundle, tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text('{"text": "hi", "label": "toxic"}\n')
    assert main(["eval", str(tiny_bundle), str(data)]) == 2
    assert "row 1 has label 'toxic'" in capsys.readouterr().err


def test_rewrite_says_when_a_suggestion_is_the_message_without_the_attack(monkeypatch, capsys):
    """The guard's detox path: the CLI labels such a suggestion, so nobody takes it for a call-in."""
    import callinkit.serve as serve
    from callinkit.serve.rewriter import Rewrite

    results = {"get it now ? check out the fucking blog already":
               Rewrite("Get it now? Check out the blog already.", {"detox": 1.0}, []),
               "you clown, that stat is fake": Rewrite("That stat looks wrong; could you check it?", {"detox": 0.0}, []),
               # the guard's deletion candidate is the message without its profanity: labelled the same way
               "he was only twenty fucking years old .": Rewrite("he was only twenty years old.", {"deletion": 1.0}, [])}

    class Stub:
        generation = {"num_candidates": 1}

        def rewrite(self, texts, num_candidates=None):
            return [results[t] for t in texts]

    monkeypatch.setattr(serve.Rewriter, "load", classmethod(lambda cls, *a, **k: Stub()))
    assert main(["rewrite", "--bundle", "any", *results]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "  -> Get it now? Check out the blog already."
    assert out[2] == "     (the message without the attack: no candidate passed as a call-in)"
    assert out[3:5] == ["you clown, that stat is fake", "  -> That stat looks wrong; could you check it?"]
    assert out[6:] == ["  -> he was only twenty years old.", "     (the message without the attack: no candidate passed as a call-in)"]
