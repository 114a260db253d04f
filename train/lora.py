"""Low-rank adapters (LoRA) for rewriter v2, without the peft dependency.

`model.lora_rank: R` wraps every linear layer named in `model.lora_targets` as W x + (alpha / R) B A x, with
W frozen, A (R x in) random and B (out x R) zero, so training starts from the base model exactly. Only A and B
train (about 7% of SmolLM2-135M's weights at R = 32), which makes a step cheaper in memory and lets an
adapter travel where a full checkpoint cannot (about 20 MB in bf16 against 540 MB).

At the end of a stage the adapters are merged into W (`merge_lora`), so `final/` and `best/` are ordinary
Hugging Face folders and export, eval and the next stage need to know nothing about LoRA. The adapter alone
is also written (`lora_adapter.safetensors`, `lora.json`) so it can be applied to the same base elsewhere:

    python -m callinkit.train.lora apply BASE_FOLDER ADAPTER_FOLDER OUT_FOLDER
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

ADAPTER_FILE = "lora_adapter.safetensors"
ADAPTER_INFO = "lora.json"
DEFAULT_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _lora_linear_class():
    import torch
    from torch import nn

    class LoRALinear(nn.Module):
        """A frozen nn.Linear plus a trainable low-rank update."""

        def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float):
            super().__init__()
            self.base = base
            base.weight.requires_grad = False
            if base.bias is not None:
                base.bias.requires_grad = False
            self.rank, self.scale = rank, alpha / rank
            self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, dtype=base.weight.dtype))
            self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, dtype=base.weight.dtype))
            nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
            self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

        def forward(self, x):
            return self.base(x) + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scale

        def delta(self):
            return (self.lora_B @ self.lora_A) * self.scale

    return LoRALinear


def add_lora(model, rank: int, alpha: float, dropout: float = 0.0, targets: Sequence[str] = DEFAULT_TARGETS) -> int:
    """Wrap the target linear layers in place; freezes every other weight. Returns how many were wrapped."""
    import torch

    LoRALinear = _lora_linear_class()
    for p in model.parameters():
        p.requires_grad = False
    wrapped = 0
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if child_name in targets and isinstance(child, torch.nn.Linear):
                setattr(module, child_name, LoRALinear(child, rank, alpha, dropout))
                wrapped += 1
    if not wrapped:
        from callinkit.errors import CallinkitError

        raise CallinkitError(f"model.lora_targets {list(targets)} matched no linear layer of the model; "
                             f"its linear layers are named like {sorted(_linear_names(model))[:8]}")
    return wrapped


def _linear_names(model) -> set[str]:
    import torch

    return {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}


def _lora_modules(model):
    return [(name, m) for name, m in model.named_modules() if hasattr(m, "lora_A") and hasattr(m, "base")]


def adapter_state(model, dtype=None) -> dict:
    """{'<module>.lora_A': tensor, '<module>.lora_B': tensor} of every wrapped layer (detached, on CPU)."""
    out = {}
    for name, m in _lora_modules(model):
        for part in ("lora_A", "lora_B"):
            t = getattr(m, part).detach().cpu()
            out[f"{name}.{part}"] = (t.to(dtype) if dtype is not None else t).contiguous()
    return out


def save_adapter(model, folder: Path, rank: int, alpha: float, dtype: str = "bfloat16") -> Path:
    """Write the adapters alone (safetensors, bf16 by default) and lora.json beside them."""
    import torch
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(adapter_state(model, getattr(torch, dtype)), str(folder / ADAPTER_FILE))
    (folder / ADAPTER_INFO).write_text(json.dumps({"rank": rank, "alpha": alpha, "dtype": dtype,
                                                    "layers": len(_lora_modules(model))}, indent=2) + "\n")
    return folder / ADAPTER_FILE


def merge_lora(model) -> int:
    """Fold every adapter into its base weight and put the plain nn.Linear back. Returns how many."""
    import torch

    merged = 0
    for name, m in _lora_modules(model):
        with torch.no_grad():
            m.base.weight += m.delta().to(m.base.weight.dtype)
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, m.base)
        merged += 1
    return merged


def apply_adapter(model, adapter_folder: Path) -> int:
    """Add the saved adapter's update (W += alpha/R B A) to a plain model's weights in place."""
    import torch
    from safetensors.torch import load_file

    from callinkit.errors import CallinkitError

    info = json.loads((adapter_folder / ADAPTER_INFO).read_text())
    state = load_file(str(adapter_folder / ADAPTER_FILE))
    scale = info["alpha"] / info["rank"]
    done = 0
    for key in sorted(k for k in state if k.endswith(".lora_A")):
        name = key[: -len(".lora_A")]
        try:
            linear = model.get_submodule(name)
        except AttributeError:
            raise CallinkitError(f"{adapter_folder / ADAPTER_FILE}: the model has no layer {name}; was the adapter "
                                 "trained on another base model?") from None
        a, b = state[key].float(), state[f"{name}.lora_B"].float()
        if (b.shape[0], a.shape[1]) != tuple(linear.weight.shape):
            raise CallinkitError(f"{adapter_folder / ADAPTER_FILE}: {name} is {tuple(linear.weight.shape)} in the "
                                 f"model but {(b.shape[0], a.shape[1])} in the adapter; another base model?")
        with torch.no_grad():
            linear.weight += ((b @ a) * scale).to(device=linear.weight.device, dtype=linear.weight.dtype)
        done += 1
    if done != info.get("layers", done):
        raise CallinkitError(f"{adapter_folder}: lora.json names {info['layers']} layers, the file holds {done}")
    return done

def truncate_update(a, b, rank: int):
    """(A', B', share kept) with B' A' the best rank-`rank` approximation of B A (Frobenius norm), from an SVD
    of the small core Rb Ra^T of B = Qb Rb, A^T = Qa Ra: never forms the full [out, in] matrix."""
    import torch

    qb, rb = torch.linalg.qr(b.double())
    qa, ra = torch.linalg.qr(a.double().T)
    u, s, vh = torch.linalg.svd(rb @ ra.T)
    kept = float((s[:rank] ** 2).sum() / (s ** 2).sum()) if float(s.abs().sum()) > 0 else 1.0
    return (vh[:rank] @ qa.T).float().contiguous(), (qb @ (u[:, :rank] * s[:rank])).float().contiguous(), kept


def combine_adapters(folders: Sequence[Path], out_folder: Path, max_rank: int | None = None) -> Path:
    """One adapter equal to applying `folders` one after the other (each trained on the model merged with
    the ones before): W + s1 B1 A1 + s2 B2 A2 = W + [s1 B1 | s2 B2] [A1 ; A2], stored with scale 1 (alpha =
    rank = the sum of the ranks), in float32 so that nothing is rounded twice. With `max_rank` below that sum,
    each layer's update is cut to that rank by a truncated SVD (`truncate_update`); lora.json records the
    smallest share of a layer's update (squared Frobenius norm) that was kept."""
    import torch
    from safetensors.torch import load_file, save_file

    from callinkit.errors import CallinkitError

    states, scales = [], []
    for folder in folders:
        info = json.loads((Path(folder) / ADAPTER_INFO).read_text())
        states.append(load_file(str(Path(folder) / ADAPTER_FILE)))
        scales.append(float(info["alpha"]) / float(info["rank"]))
    names = sorted(k[: -len(".lora_A")] for k in states[0] if k.endswith(".lora_A"))
    for folder, state in zip(folders[1:], states[1:]):
        if sorted(k[: -len(".lora_A")] for k in state if k.endswith(".lora_A")) != names:
            raise CallinkitError(f"{folder}: its adapter covers other layers than {folders[0]}'s; cannot combine")
    if max_rank is not None and max_rank < 1:
        raise CallinkitError(f"max_rank must be a positive rank, got {max_rank}")
    full_rank = sum(int(s[f"{names[0]}.lora_A"].shape[0]) for s in states)
    truncate = max_rank is not None and full_rank > max_rank
    out, kept = {}, []
    for name in names:
        a = torch.cat([s[f"{name}.lora_A"].float() for s in states], 0)
        b = torch.cat([s[f"{name}.lora_B"].float() * c for s, c in zip(states, scales)], 1)
        if truncate:
            a, b, share = truncate_update(a, b, max_rank)
            kept.append(share)
        out[f"{name}.lora_A"], out[f"{name}.lora_B"] = a.contiguous(), b.contiguous()
    rank = int(out[f"{names[0]}.lora_A"].shape[0])
    out_folder.mkdir(parents=True, exist_ok=True)
    save_file(out, str(out_folder / ADAPTER_FILE))
    info = {"rank": rank, "alpha": float(rank), "dtype": "float32", "layers": len(names),
            "combined": [str(f) for f in folders]}
    if truncate:
        info["truncated_from_rank"], info["min_share_kept"] = full_rank, min(kept)
    (out_folder / ADAPTER_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return out_folder


def to_peft(adapter_folder: Path, out_folder: Path, base_model: str) -> Path:
    """Write the adapter in PEFT's LoRA format (adapter_config.json + adapter_model.safetensors).

    onnxruntime-genai's model builder reads that format (`adapter_path=`) and builds the adapters as their own
    low-rank MatMuls beside the quantized base weights instead of quantizing the merged weights
    (`export.lora_branch`). The target modules are read off the adapter's own keys."""
    from safetensors.torch import load_file, save_file

    info = json.loads((adapter_folder / ADAPTER_INFO).read_text())
    state = load_file(str(adapter_folder / ADAPTER_FILE))
    out_folder.mkdir(parents=True, exist_ok=True)
    save_file({f"base_model.model.{k}.weight": v.float().contiguous() for k, v in state.items()},
              str(out_folder / "adapter_model.safetensors"))
    (out_folder / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_model,
        "r": info["rank"], "lora_alpha": info["alpha"], "lora_dropout": 0.0, "bias": "none",
        "target_modules": sorted({k.rsplit(".", 2)[-2] for k in state}), "fan_in_fan_out": False,
        "inference_mode": True}, indent=2) + "\n")
    return out_folder



def _main(argv: Sequence[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m callinkit.train.lora",
                                     description="Apply a saved LoRA adapter to its base model and save the result.")
    sub = parser.add_subparsers(dest="command", required=True)
    ap = sub.add_parser("apply", help="BASE_FOLDER ADAPTER_FOLDER OUT_FOLDER")
    ap.add_argument("base")
    ap.add_argument("adapter")
    ap.add_argument("out")
    args = parser.parse_args(argv)
    from callinkit.train.rewriter_lm import load_lm

    model, tokenizer = load_lm(args.base)
    n = apply_adapter(model, Path(args.adapter))
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    print(f"applied {n} adapted layers from {args.adapter} to {args.base}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
