"""Export parity (fp32 within tolerance, int8 label agreement), atomic export, and the Classifier API."""

import json

import numpy as np
import pytest
from conftest import fixture_texts

from callinkit import BundleError, CallinkitError, Classifier, Prediction


def test_fp32_bundle_matches_pytorch(tiny_run, tiny_bundle):
    from callinkit.train.evaluation import torch_scorer

    texts = fixture_texts() + ["", "🙂", "A" * 2000]
    _, torch_probs = torch_scorer(tiny_run / "best", max_length=32)
    onnx_probs = Classifier.load(tiny_bundle, batch_size=7).predict_proba(texts)
    assert onnx_probs.shape == (len(texts), 3)
    np.testing.assert_allclose(onnx_probs, torch_probs(texts), atol=1e-5)
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    assert manifest["validation"]["max_abs_logit_diff"] <= manifest["validation"]["atol"]
    assert manifest["quantization"] == "none"


def test_int8_bundle_agrees_on_labels(tiny_run, tiny_bundle, tiny_bundle_int8):
    texts = fixture_texts()
    fp32 = [p.label for p in Classifier.load(tiny_bundle).predict(texts)]
    int8 = [p.label for p in Classifier.load(tiny_bundle_int8).predict(texts)]
    agreement = np.mean([a == b for a, b in zip(fp32, int8)])
    assert agreement >= 0.9
    manifest = json.loads((tiny_bundle_int8 / "manifest.json").read_text())
    assert manifest["quantization"] == "int8" and manifest["validation"]["int8_label_agreement"] >= 0.9
    assert (tiny_bundle_int8 / "model.onnx").stat().st_size < (tiny_bundle / "model.onnx").stat().st_size


def test_bundle_is_self_describing_in_optimum_layout(tiny_bundle):
    import hashlib

    import onnxruntime as ort

    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    assert manifest["format"] == "callinkit-bundle" and manifest["format_version"] == 1
    assert manifest["labels"] == ["call_out", "call_in", "neutral"]
    assert {"base_model", "data", "metrics", "validation", "training"} <= set(manifest)
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((tiny_bundle / name).read_bytes()).hexdigest() == digest
    config = json.loads((tiny_bundle / "config.json").read_text())
    assert config["id2label"] == {"0": "call_out", "1": "call_in", "2": "neutral"}
    session = ort.InferenceSession(str(tiny_bundle / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["input_ids", "attention_mask"]
    assert [o.name for o in session.get_outputs()] == ["logits"]
    assert (tiny_bundle / "training_config.yaml").is_file() and (tiny_bundle / "metrics.json").is_file()


def test_failed_export_leaves_no_half_bundle(tiny_run, tmp_path):
    import shutil

    from callinkit.train.export import ExportError, export_classifier

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = (run / "config.yaml").read_text().replace("atol: 0.0001", "atol: 1.0e-30")
    (run / "config.yaml").write_text(config)
    out = tmp_path / "bundle"
    with pytest.raises(ExportError, match="differs from PyTorch by .* at example"):
        export_classifier(run, out, quantize="none")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no temp folder left behind


def test_export_refuses_to_overwrite_without_flag(tiny_run, tiny_bundle):
    from callinkit.train.export import export_classifier

    with pytest.raises(BundleError, match="already exists"):
        export_classifier(tiny_run, tiny_bundle, quantize="none")


def test_predict_shapes(tiny_bundle):
    clf = Classifier.load(tiny_bundle, batch_size=4)
    assert clf.predict([]) == []
    preds = clf.predict(["a", "b", "c", "d", "e", "f"])
    assert len(preds) == 6 and all(isinstance(p, Prediction) for p in preds)
    for p in preds:
        assert set(p.scores) == {"call_out", "call_in", "neutral"}
        assert abs(sum(p.scores.values()) - 1) < 1e-5 and p.label == max(p.scores, key=p.scores.get)
    one = clf.predict_one("f")
    assert one == preds[-1]
    with pytest.raises(TypeError, match="predict_one"):
        clf.predict("a single string")
    with pytest.raises(TypeError, match="item 1 is int"):
        clf.predict(["ok", 3])


def test_cuda_without_cuda_provider_says_what_to_install(tiny_bundle):
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA; the CUDA path is checked on a GPU machine")
    with pytest.raises(CallinkitError, match=r"callinkit\[gpu\]"):
        Classifier.load(tiny_bundle, device="cuda")


def test_bad_bundles_are_clear_errors(tiny_bundle, tmp_path):
    import shutil

    with pytest.raises(BundleError, match="bundle folder not found"):
        Classifier.load(tmp_path / "nope")
    with pytest.raises(BundleError, match="has no manifest.json"):
        Classifier.load(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_bundle, broken)
    (broken / "model.onnx").unlink()
    with pytest.raises(BundleError, match="missing model.onnx"):
        Classifier.load(broken)
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    future = tmp_path / "future"
    shutil.copytree(tiny_bundle, future)
    (future / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(BundleError, match="upgrade callinkit"):
        Classifier.load(future)
    (future / "manifest.json").write_text(json.dumps({**manifest, "kind": "rewriter"}))
    with pytest.raises(BundleError, match="expected a 'classifier' bundle"):
        Classifier.load(future)


def test_default_bundle_comes_from_the_environment(tiny_bundle, monkeypatch):
    monkeypatch.setenv("CALLINKIT_CLASSIFIER_BUNDLE", str(tiny_bundle))
    assert Classifier.load().bundle_dir == tiny_bundle


@pytest.mark.parametrize("window", [4096, 7])
def test_length_sorted_batches_give_each_text_its_own_logits_in_input_order(tiny_bundle, monkeypatch, window):
    # More texts than one batch: they run in batches of similar length, each cut to its own longest text,
    # sorted within windows of SORT_WINDOW texts (7 here: several windows, the last one short). Every row must
    # still be that text's logits (as when it runs alone) and come back in input order.
    monkeypatch.setattr("callinkit.serve.classifier.SORT_WINDOW", window)
    base = fixture_texts()
    texts = [" ".join([base[i % len(base)]] * (1 + i % 5)) for i in range(23)]  # lengths mixed, out of order
    batched = Classifier.load(tiny_bundle, batch_size=4)
    assert len({len(batched.tokenizer.encode(t).ids) for t in texts}) > 4
    alone = np.concatenate([batched.logits([t]) for t in texts])
    together = batched.logits(texts)
    assert together.shape == (23, len(batched.labels))
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert Classifier.load(tiny_bundle, batch_size=64).logits(texts[:3]).shape == (3, len(batched.labels))


def test_fp32_layers_auto_tries_layer_prefixes_in_order():
    from callinkit.train.export import fp32_layer_trials

    assert fp32_layer_trials("auto", 3) == [(), (0,), (0, 1), (0, 1, 2)]
    assert fp32_layer_trials((0, 5), 6) == [(0, 5)]


@pytest.mark.parametrize("gate", [0.01, 1.0])
def test_fp32_layers_auto_keeps_the_first_prefix_that_passes_the_gate(tiny_run, tmp_path, gate):
    import shutil

    import yaml

    from callinkit.train.export import ExportError, export_classifier

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["export"].update(fp32_layers="auto", min_int8_agreement=gate)
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    texts = fixture_texts()
    try:
        manifest = export_classifier(run, tmp_path / "bundle", quantize="int8", agreement_texts=texts)
    except ExportError as exc:  # only possible when no prefix reaches the gate
        assert gate == 1.0 and "every layer prefix" in str(exc)
        return
    tried = manifest["validation"]["fp32_layers_tried"]
    chosen = manifest["validation"]["fp32_layers"]
    assert list(tried)[0] == "none" and len(chosen) == len(tried) - 1  # prefixes tried in order, stopped at once
    assert list(tried.values())[-1] == manifest["validation"]["int8_label_agreement"] >= gate
    assert all(a < gate for a in list(tried.values())[:-1])  # every earlier prefix failed the gate
    if gate == 0.01:
        assert tried.keys() == {"none"} and chosen == []
