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


def _op_types(path) -> list[str]:
    import onnx

    return [n.op_type for n in onnx.load(str(path)).graph.node]


def test_export_fuses_each_layer_attention_and_stays_within_tolerance(tiny_run, tiny_bundle, tiny_bundle_int8):
    n_layers = json.loads((tiny_run / "best" / "config.json").read_text())["num_hidden_layers"]
    validation = json.loads((tiny_bundle / "manifest.json").read_text())["validation"]
    assert validation["fusion"]["masks_rewritten"] == n_layers
    assert validation["fusion"]["Attention"] == n_layers and validation["fusion"]["SkipLayerNormalization"] > 0
    assert validation["max_abs_logit_diff_fused"] <= validation["atol"]
    ops = _op_types(tiny_bundle / "model.onnx")
    assert ops.count("Attention") == n_layers and "Softmax" not in ops and "Where" not in ops
    assert _op_types(tiny_bundle_int8 / "model.onnx").count("QAttention") == n_layers  # int8 QKV projections


def test_fused_attention_reads_the_mask_itself_not_the_sequence_length(tiny_run, tiny_bundle):
    # The fused Attention takes the raw 2-D mask: a text padded on the left, or with a masked hole in the middle,
    # gives PyTorch's logits for the same inputs (a mask turned into "valid length" would attend the wrong tokens).
    import onnxruntime as ort
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_run / "best").eval()
    session = ort.InferenceSession(str(tiny_bundle / "model.onnx"), providers=["CPUExecutionProvider"])
    ids = Classifier.load(tiny_bundle).tokenizer.encode("nobody asked you, log off").ids
    left = np.array([[0] * 5 + ids], dtype=np.int64)
    hole = np.array([ids[:3] + [999] + ids[3:]], dtype=np.int64)
    for inputs, mask in [(left, [0] * 5 + [1] * len(ids)), (hole, [1, 1, 1, 0] + [1] * (len(ids) - 3))]:
        mask = np.array([mask], dtype=np.int64)
        fused = session.run(["logits"], {"input_ids": inputs, "attention_mask": mask})[0]
        with torch.no_grad():
            reference = model(input_ids=torch.from_numpy(inputs), attention_mask=torch.from_numpy(mask)).logits
        np.testing.assert_allclose(fused, reference.numpy(), atol=1e-4)
        attended = session.run(["logits"], {"input_ids": inputs, "attention_mask": np.ones_like(inputs)})[0]
        assert not np.allclose(fused, attended, atol=1e-4)  # the masked tokens do change the answer


def test_export_without_fusion_keeps_the_plain_graph(tiny_run, tmp_path):
    import shutil

    import yaml

    from callinkit.train.export import export_classifier

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["export"]["fuse"] = False
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    manifest = export_classifier(run, tmp_path / "bundle", quantize="none")
    assert "fusion" not in manifest["validation"]
    ops = _op_types(tmp_path / "bundle" / "model.onnx")
    assert "Attention" not in ops and "Softmax" in ops


def test_length_groups_cover_every_text_once_and_separate_a_long_one():
    from callinkit.serve.classifier import length_groups

    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 90, size=77)
    groups = length_groups(lengths, 32)
    assert sorted(np.concatenate(groups).tolist()) == list(range(77))
    assert all(1 <= len(g) <= 32 for g in groups)
    def cost(gs):  # padded tokens + the fixed cost of each run
        return sum(len(g) * lengths[g].max() + 32 for g in gs)

    order = np.argsort(lengths)
    assert cost(groups) <= cost([order[i:i + 32] for i in range(0, 77, 32)])  # never worse than sorted chunks
    assert cost(groups) < cost([np.arange(i, min(77, i + 32)) for i in range(0, 77, 32)])  # nor input order
    # 31 short texts and one long one: the long one runs alone instead of padding 31 texts to its length.
    mixed = np.array([10] * 31 + [90])
    assert [sorted(g.tolist()) for g in length_groups(mixed, 32)] == [list(range(31)), [31]]
    # Equal lengths: one run (splitting only adds the fixed cost); a cap smaller than the list still holds.
    assert len(length_groups(np.full(20, 12), 32)) == 1
    assert sorted(len(g) for g in length_groups(np.full(20, 12), 8)) == [4, 8, 8]
    assert length_groups(np.array([], dtype=int), 32) == [] and len(length_groups(np.array([5]), 32)) == 1
