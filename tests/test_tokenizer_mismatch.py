"""A bundle whose tokenizer.json belongs to another model is refused, with one error naming the file and
what to do, from the library, the CLI and `callinkit serve`; even when its manifest checksums were rewritten
to match (a bundle assembled by hand)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from callinkit import Classifier
from callinkit.bundle import MANIFEST, file_sha256
from callinkit.errors import BundleError
from callinkit.vocab import embedding_rows, tokenizer_size

MISMATCH = r"tokenizer.json does not belong to this bundle's model: it has {got} token ids but the model takes " \
           r"30,522.*Copy tokenizer.json from the run the model was exported from"


def resize_tokenizer(bundle: Path, size: int, rewrite_manifest: bool = True) -> None:
    """Give `bundle` a WordPiece tokenizer.json with `size` ids (MiniLM's first ids, then made-up pieces)."""
    path = bundle / "tokenizer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    vocab = {piece: i for piece, i in data["model"]["vocab"].items() if i < size}
    vocab.update({f"extra{i}": i for i in range(len(vocab), size)})
    data["model"]["vocab"] = vocab
    data["added_tokens"] = [t for t in data["added_tokens"] if t["id"] < size]
    path.write_text(json.dumps(data), encoding="utf-8")
    if rewrite_manifest:
        manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
        manifest["files"]["tokenizer.json"] = file_sha256(path)
        (bundle / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture()
def copied_bundle(tiny_bundle, tmp_path):
    out = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, out)
    return out


def test_the_embedding_is_read_from_the_graph_fp32_and_int8(tiny_bundle, tiny_bundle_int8):
    assert tokenizer_size(tiny_bundle / "tokenizer.json") == 30522
    assert embedding_rows(tiny_bundle / "model.onnx") == 30522
    assert embedding_rows(tiny_bundle_int8 / "model.onnx") == 30522
    assert embedding_rows(tiny_bundle / "model.onnx", input_name="no_such_input") is None


@pytest.mark.parametrize("size", [50265, 5000])  # a larger vocabulary (ids past the embedding), a smaller one
def test_the_library_refuses_another_models_tokenizer(copied_bundle, size):
    resize_tokenizer(copied_bundle, size)
    with pytest.raises(BundleError, match=MISMATCH.format(got=f"{size:,}")) as error:
        Classifier.load(copied_bundle)
    assert "per model.onnx (its token embedding has 30,522 rows)" in str(error.value)


def test_a_swapped_tokenizer_is_reported_as_a_mismatch_before_its_checksum(copied_bundle):
    resize_tokenizer(copied_bundle, 50265, rewrite_manifest=False)
    with pytest.raises(BundleError, match=MISMATCH.format(got="50,265")):
        Classifier.load(copied_bundle)


def test_a_few_padding_rows_beyond_the_tokenizer_are_not_a_mismatch(copied_bundle):
    resize_tokenizer(copied_bundle, 30522 - 64)  # the model has 64 rows no id reaches (vocab rounded up)
    assert Classifier.load(copied_bundle).predict(["you clown"])[0].label in ("call_out", "call_in", "neutral")


def test_the_rewriter_refuses_another_models_tokenizer(tiny_rewriter_bundle, tmp_path):
    from callinkit.serve import Rewriter

    bundle = tmp_path / "rewriter"
    shutil.copytree(tiny_rewriter_bundle, bundle)
    resize_tokenizer(bundle, 50265)
    with pytest.raises(BundleError, match=MISMATCH.format(got="50,265")) as error:
        Rewriter.load(bundle)
    assert "per encoder_model.onnx (its token embedding has 30,522 rows)" in str(error.value)


def test_the_cli_names_the_file_without_a_traceback(copied_bundle, capsys):
    from callinkit.cli import main

    resize_tokenizer(copied_bundle, 50265)
    code = main(["predict", "--bundle", str(copied_bundle), "hello"])
    err = capsys.readouterr().err
    assert code == 2 and "tokenizer.json does not belong to this bundle's model" in err and "Traceback" not in err


def test_serve_refuses_to_start(copied_bundle, capsys, monkeypatch):
    from callinkit.cli import main
    from callinkit.serve.http import command

    def started(*args, **kwargs):
        raise AssertionError("the server started with another model's tokenizer")

    monkeypatch.setattr(command, "run_server", started)  # fail, rather than serve forever, if the check is gone
    resize_tokenizer(copied_bundle, 5000)
    code = main(["serve", "--classifier-bundle", str(copied_bundle), "--rewriter-bundle", "none", "--port", "0"])
    err = capsys.readouterr().err
    assert code == 2 and f"{copied_bundle / 'tokenizer.json'} does not belong" in err and "Traceback" not in err
