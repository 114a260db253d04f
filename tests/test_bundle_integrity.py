"""A bundle whose model files do not match their manifest sha256 is refused with an error naming the file,
from the library and from the CLI."""

from __future__ import annotations

import shutil

import pytest

from callinkit import Classifier
from callinkit.errors import BundleError


@pytest.fixture()
def copied_bundle(tiny_bundle, tmp_path):
    out = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, out)
    return out


def test_a_corrupted_model_file_is_named(copied_bundle):
    data = bytearray((copied_bundle / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copied_bundle / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model.onnx does not match the sha256.*corrupted or truncated"):
        Classifier.load(copied_bundle)


def test_a_truncated_tokenizer_is_named(copied_bundle):
    path = copied_bundle / "tokenizer.json"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(BundleError, match=r"tokenizer.json does not match"):
        Classifier.load(copied_bundle)


def test_a_listed_file_that_is_missing_is_named(copied_bundle):
    (copied_bundle / "config.json").unlink()
    with pytest.raises(BundleError, match=r"config.json"):
        Classifier.load(copied_bundle)


def test_edited_documentation_does_not_block_loading(copied_bundle):
    (copied_bundle / "metrics.json").write_text("{}")
    assert Classifier.load(copied_bundle).predict(["hello"])[0].label


def test_the_cli_reports_a_corrupted_bundle_without_a_traceback(copied_bundle, capsys):
    from callinkit.cli import main

    (copied_bundle / "model.onnx").write_bytes(b"not a model")
    code = main(["predict", "--bundle", str(copied_bundle), "hello"])
    err = capsys.readouterr().err
    assert code != 0 and "model.onnx does not match" in err and "Traceback" not in err
