"""Greedy rewrites of a list of sources by one model and any number of its LoRA adapters (torch, CPU or GPU).

Comparing epochs or runs by reading and scoring their outputs needs no export: give the base (or a
trained `final/` folder), the adapters saved at each epoch (`stages/<i>-<name>/adapters/step-N/`), and a
JSONL of sources (`{"id": ..., "source": ..., "context": ...}`); every adapter's greedy rewrite of every
source is written as one JSONL row `{"model": ..., "id": ..., "output": ...}`.

    python -m callinkit.train.lm_samples runs/x/stages/0-callin/final sources.jsonl out.jsonl
    python -m callinkit.train.lm_samples BASE sources.jsonl out.jsonl --adapters runs/x/stages/0-a/adapters/step-*
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def read_sources(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if not str(row.get("source", "")).strip():
                from callinkit.errors import DataError

                raise DataError(f"{path}:{n}: a row needs a non-empty 'source'")
            rows.append(row)
    return rows


def write_samples(model_folder: str, sources: Path, out: Path, adapters: Sequence[str] = (), batch_size: int = 64,
                  max_new_tokens: int = 80, system: str | None = None) -> int:
    """Generate and write; returns the number of rows written."""
    import torch

    from callinkit.lm_prompt import SYSTEM_PROMPT
    from callinkit.train.lora import apply_adapter
    from callinkit.train.rewriter_lm import load_lm

    rows = read_sources(sources)
    model, tokenizer = load_lm(model_folder)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    original = {k: v.clone() for k, v in model.state_dict().items()} if adapters else None
    model.to(device)
    system = system or SYSTEM_PROMPT
    written = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for name in adapters or [None]:
            if name is not None:
                model.load_state_dict(original)  # each adapter applies to the same untouched weights
                apply_adapter(model, Path(name))
            started = time.perf_counter()
            outs = _generate(model, tokenizer, rows, system, max_new_tokens, batch_size)
            label = str(name or model_folder)
            for r, o in zip(rows, outs):
                fh.write(json.dumps({"model": label, "id": r.get("id"), "output": o}, ensure_ascii=False) + "\n")
                written += 1
            print(f"{label}: {len(rows)} rewrites in {time.perf_counter() - started:.1f} s", flush=True)
    return written


def _generate(model, tokenizer, rows, system, max_new_tokens, batch_size):
    """generate_greedy over the rows sorted by length (each batch pads little), returned in the rows' order."""
    from callinkit.train.rewriter_lm import generate_greedy

    order = sorted(range(len(rows)), key=lambda i: len(rows[i]["source"]) + len(rows[i].get("context") or ""))
    texts = [rows[i]["source"] for i in order]
    contexts = [rows[i].get("context") for i in order]
    outs = generate_greedy(model, tokenizer, texts, system, max_new_tokens, contexts, batch_size)
    result = [""] * len(rows)
    for i, o in zip(order, outs):
        result[i] = o
    return result


def _main(argv: Sequence[str]) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m callinkit.train.lm_samples", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="a Hugging Face folder (a run's final/ or best/, or the base model)")
    p.add_argument("sources", type=Path, help="JSONL with id, source and optional context")
    p.add_argument("out", type=Path)
    p.add_argument("--adapters", nargs="*", default=(), help="LoRA adapter folders to apply to MODEL, one at a time")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-new-tokens", type=int, default=80)
    args = p.parse_args(argv)
    n = write_samples(args.model, args.sources, args.out, args.adapters, args.batch_size, args.max_new_tokens)
    print(f"wrote {n} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
