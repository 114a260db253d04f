"""The self-describing export bundle: layout, manifest, and reading it back (torch-free).

A bundle is a folder that loads with no other file and says how it was made:

    manifest.json          format name + version, kind, files, labels, provenance, validation, metrics
    model.onnx             (classifier) inputs input_ids, attention_mask -> output logits
    config.json            Hugging Face config with id2label / label2id (optimum's layout)
    tokenizer.json         fast tokenizer (+ tokenizer_config.json, special_tokens_map.json, vocab.txt)
    training_config.yaml   the merged run config
    metrics.json           evaluation metrics of the trained model

Bundles are written to a temporary folder beside the target and renamed into place, so a failed export
never leaves a half-written bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from callinkit.errors import BundleError

FORMAT_NAME = "callinkit-bundle"
FORMAT_VERSION = 2
"""Newest bundle format this callinkit reads. 2 added rewriter v2 (`architecture: decoder_lm`)."""
BASE_FORMAT_VERSION = 1
"""What classifier, embedder and release-1 rewriter bundles are written as (their layout did not change, so
older callinkit versions still read them)."""
MANIFEST = "manifest.json"

REQUIRED_FILES: dict[str, tuple[str, ...]] = {
    "classifier": ("model.onnx", "tokenizer.json", "config.json"),
    "rewriter": ("encoder_model.onnx", "decoder_model_merged.onnx", "tokenizer.json", "config.json"),
    "embedder": ("model.onnx", "tokenizer.json"),
    # Rewriter v2: a decoder-only LM that onnxruntime-genai runs (model.onnx.data holds its weights).
    "rewriter:decoder_lm": ("model.onnx", "model.onnx.data", "genai_config.json", "tokenizer.json"),
}


def required_files(manifest: dict[str, Any]) -> tuple[str, ...]:
    """The files a bundle of this manifest's kind and architecture must hold."""
    kind = manifest.get("kind", "")
    arch = manifest.get("architecture")
    return REQUIRED_FILES.get(f"{kind}:{arch}" if arch and arch != "seq2seq" else kind, ())


# Files whose bytes decide what a bundle computes; their sha256 in the manifest is checked on load. (Model cards,
# metrics and eval reports are documentation: editing them does not change the model.)
CHECKED_SUFFIXES = (".onnx", ".onnx.data", ".bin", ".data")
CHECKED_NAMES = ("tokenizer.json", "config.json", "genai_config.json", "generation_config.json")
_verified: dict[tuple[str, int, int], str] = {}  # (path, size, mtime_ns) -> sha256 already checked this process


def file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_files(root: Path, manifest: dict[str, Any]) -> None:
    """Check the sha256 of every model file the manifest lists. Raises BundleError naming the file that
    does not match (a truncated copy, a corrupted download, a file replaced by hand)."""
    for name, expected in (manifest.get("files") or {}).items():
        if not (name.endswith(CHECKED_SUFFIXES) or name in CHECKED_NAMES):
            continue
        path = root / name
        if not path.is_file():
            raise BundleError(f"bundle {root} is incomplete: {name} is listed in its manifest but missing; "
                              "copy the whole bundle folder again or re-export it")
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if _verified.get(key) == expected:
            continue
        actual = file_sha256(path)
        if actual != expected:
            raise BundleError(f"{path} does not match the sha256 in {root / MANIFEST} ({stat.st_size:,} bytes, "
                              f"sha256 {actual[:12]}..., expected {expected[:12]}...): the file is corrupted or "
                              "truncated; copy the bundle again or re-export it with `callinkit export`")
        _verified[key] = expected


def read_manifest(bundle: str | os.PathLike[str], kind: str | None = None, verify: bool = True) -> dict[str, Any]:
    """Read and check a bundle's manifest, and (with `verify`) that its tokenizer fits its model and the
    sha256 of its model files. Raises BundleError saying what is wrong and how to fix it."""
    root = Path(bundle)
    if not root.is_dir():
        raise BundleError(f"bundle folder not found: {root} (export one with `callinkit export RUN_DIR OUT_DIR`)")
    path = root / MANIFEST
    if not path.is_file():
        raise BundleError(f"{root} is not a callinkit bundle: it has no {MANIFEST}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BundleError(f"{path} is not valid JSON ({exc})") from None
    if manifest.get("format") != FORMAT_NAME:
        raise BundleError(f"{path}: format is {manifest.get('format')!r}, expected {FORMAT_NAME!r}")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BundleError(
            f"{path}: bundle format version {version!r} is newer than this callinkit supports "
            f"({FORMAT_VERSION}); upgrade callinkit"
        )
    if kind is not None and manifest.get("kind") != kind:
        raise BundleError(f"{root} is a {manifest.get('kind')!r} bundle, expected a {kind!r} bundle")
    missing = [f for f in required_files(manifest) if not (root / f).is_file()]
    if missing:
        raise BundleError(f"bundle {root} is incomplete: missing {', '.join(missing)}")
    if verify:
        from callinkit.vocab import check_tokenizer

        check_tokenizer(root, manifest)  # before the checksums: "another model's tokenizer" says more than a sha256
        verify_files(root, manifest)
    return manifest


@contextmanager
def atomic_directory(target: str | os.PathLike[str], overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside `target`; on success rename it to `target`, on error delete it."""
    target = Path(target)
    if target.exists() and not overwrite:
        raise BundleError(f"{target} already exists; choose another folder or pass --overwrite")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a bundle is read by other users (servers)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8")
