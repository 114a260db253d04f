"""The shipped rewriter can live in its own wheel (`callinkit-model-rewriter`), found when installed."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_a_model_wheel_is_found_when_the_package_holds_no_bundle(tiny_bundle, tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        from model_wheel import build_model_wheel
    finally:
        sys.path.remove(str(ROOT / "packaging"))
    wheel = build_model_wheel("classifier", tiny_bundle, tmp_path / "dist", "0.0.1")
    names = zipfile.ZipFile(wheel).namelist()
    assert "callinkit_model_classifier/bundle/manifest.json" in names
    assert "callinkit_model_classifier/bundle/model.onnx" in names

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True)
    monkeypatch.syspath_prepend(str(target))
    importlib.invalidate_caches()
    import callinkit
    from callinkit.serve import runtime

    fake_root = tmp_path / "pkg"  # a callinkit folder with no models/ inside: as an install without them
    (fake_root / "models").mkdir(parents=True)
    monkeypatch.setattr(callinkit, "__file__", str(fake_root / "__init__.py"))
    monkeypatch.delenv("CALLINKIT_CLASSIFIER_BUNDLE", raising=False)
    found = runtime.default_bundle("classifier")
    assert found == (target / "callinkit_model_classifier" / "bundle").resolve()
    from callinkit import Classifier

    assert Classifier.load().predict(["hello"])[0].label
    shutil.rmtree(target)


def test_without_any_bundle_the_error_says_how_to_get_one(tmp_path, monkeypatch):
    import callinkit
    from callinkit.errors import BundleError
    from callinkit.serve import runtime

    monkeypatch.setattr(callinkit, "__file__", str(tmp_path / "__init__.py"))
    monkeypatch.delenv("CALLINKIT_REWRITER_BUNDLE", raising=False)
    if importlib.util.find_spec("callinkit_model_rewriter") is not None:
        pytest.skip("a rewriter model package is installed here")
    with pytest.raises(BundleError, match="pip install callinkit-model-rewriter"):
        runtime.resolve_bundle("rewriter", None)
