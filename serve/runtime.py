"""onnxruntime sessions and bundle lookup shared by the torch-free Classifier and Rewriter."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from callinkit.errors import BundleError, CallinkitError

Device = Literal["cpu", "cuda"]

# Environment variables that point the no-argument loaders at your own bundles.
BUNDLE_ENV = {"classifier": "CALLINKIT_CLASSIFIER_BUNDLE", "rewriter": "CALLINKIT_REWRITER_BUNDLE"}


def default_bundle(kind: str) -> Path | None:
    """$CALLINKIT_<KIND>_BUNDLE, else the bundle inside the callinkit folder (a checkout, or a wheel that holds
    it), else an installed model package `callinkit_model_<kind>` (the models are shipped as their own wheels
    when together they pass PyPI's file limit; see packaging/model_wheel.py), else None."""
    env = os.environ.get(BUNDLE_ENV[kind])
    if env:
        return Path(env)
    import callinkit

    shipped = Path(callinkit.__file__).resolve().parent / "models" / kind
    if (shipped / "manifest.json").is_file():
        return shipped
    import importlib.util

    spec = importlib.util.find_spec(f"callinkit_model_{kind}")
    if spec is not None and spec.origin:
        packaged = Path(spec.origin).resolve().parent / "bundle"
        if (packaged / "manifest.json").is_file():
            return packaged
    return None


def resolve_bundle(kind: str, bundle: str | os.PathLike[str] | None) -> Path:
    """The bundle folder to load: the argument, else $CALLINKIT_<KIND>_BUNDLE, else the shipped release."""
    if bundle is not None:
        return Path(bundle)
    found = default_bundle(kind)
    if found is not None:
        return found
    raise BundleError(
        f"no {kind} bundle given and none is shipped with this install; pass a bundle folder, set "
        f"{BUNDLE_ENV[kind]}, install the model package (`pip install callinkit-model-{kind}`, built by "
        "packaging/model_wheel.py), or train and export one (see `callinkit train --help`)"
    )


def providers_for(device: Device) -> list[str]:
    """The onnxruntime execution providers for `device`; explains what to install when CUDA is absent."""
    import onnxruntime as ort

    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        available = ort.get_available_providers()
        if "CUDAExecutionProvider" not in available:
            raise CallinkitError(
                "device='cuda' needs onnxruntime's CUDAExecutionProvider, which this onnxruntime does not "
                f"have (available: {', '.join(available)}). Install the GPU build instead of the CPU one: "
                "`pip uninstall -y onnxruntime && pip install 'callinkit[gpu]'`, or use device='cpu'."
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    raise CallinkitError(f"device must be 'cpu' or 'cuda', got {device!r}")


def make_session(model_path: Path, device: Device = "cpu", threads: int | None = None):
    """An onnxruntime InferenceSession for one graph of a bundle."""
    import onnxruntime as ort

    if not model_path.is_file():
        raise BundleError(f"bundle file missing: {model_path}")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(model_path), sess_options=options, providers=providers_for(device))
    except (RuntimeError, ValueError) as exc:  # onnxruntime raises these for unreadable graphs
        raise BundleError(f"onnxruntime could not load {model_path}: {exc}") from None
