"""Build a shipped model as its own wheel, spaCy-style: `callinkit-model-<kind>`.

The models together are larger than PyPI's 100 MiB per-file limit, so the rewriter ships as a separate package
that callinkit finds when it is installed (`callinkit.serve.runtime.default_bundle`: $CALLINKIT_<KIND>_BUNDLE,
then the bundle inside the callinkit folder, then an installed `callinkit_model_<kind>` package).

    python packaging/model_wheel.py rewriter            # -> dist/callinkit_model_rewriter-<version>-py3-none-any.whl
    pip install dist/callinkit_model_rewriter-*.whl

A development checkout (`pip install -e .`) does not need it: the bundle in callinkit/models/ is found first.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PYPI_FILE_LIMIT = 100 * 1024 * 1024  # bytes: PyPI's default limit for one uploaded file

PYPROJECT = """[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "callinkit-model-{kind}"
version = "{version}"
description = "The {kind} bundle shipped with callinkit (found automatically when installed)."
requires-python = ">=3.10"
license = {{text = "Apache-2.0"}}

[tool.setuptools]
packages = ["callinkit_model_{kind}"]
include-package-data = false

[tool.setuptools.package-data]
"callinkit_model_{kind}" = ["bundle/*", "bundle/*/*", "bundle/*/*/*"]
"""

INIT = '''"""The callinkit {kind} bundle (`callinkit-model-{kind}`). callinkit finds it by itself; `BUNDLE` is its folder."""

from pathlib import Path

BUNDLE = Path(__file__).resolve().parent / "bundle"
'''


def build_model_wheel(kind: str, bundle: Path, out_dir: Path, version: str) -> Path:
    """Build the wheel of one bundle into `out_dir`; returns its path."""
    if not (bundle / "manifest.json").is_file():
        raise SystemExit(f"{bundle} is not a bundle (no manifest.json)")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text(PYPROJECT.format(kind=kind, version=version))
        package = root / f"callinkit_model_{kind}"
        package.mkdir()
        (package / "__init__.py").write_text(INIT.format(kind=kind))
        shutil.copytree(bundle, package / "bundle")
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(out_dir), str(root)], check=True)
    wheel = next(out_dir.glob(f"callinkit_model_{kind}-{version}-*.whl"))
    return wheel


def main(argv: list[str] | None = None) -> int:
    import callinkit

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=["classifier", "rewriter"])
    parser.add_argument("--bundle", type=Path, help="default: the bundle shipped in callinkit/models/KIND")
    parser.add_argument("--out", type=Path, default=Path("dist"))
    parser.add_argument("--version", default=callinkit.__version__)
    args = parser.parse_args(argv)
    bundle = args.bundle or Path(callinkit.__file__).resolve().parent / "models" / args.kind
    wheel = build_model_wheel(args.kind, bundle, args.out, args.version)
    size = wheel.stat().st_size
    print(f"{wheel}: {size / 2**20:.1f} MiB (PyPI's limit: {PYPI_FILE_LIMIT / 2**20:.0f} MiB)")
    return 0 if size <= PYPI_FILE_LIMIT else 1


if __name__ == "__main__":
    raise SystemExit(main())
