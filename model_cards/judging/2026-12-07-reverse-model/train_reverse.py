"""A reverse model for a noisy-channel score: SmolLM2-135M-Instruct with a rank-16 LoRA trained to write the
call-out a call-in came from (the corpus's train pairs, reversed). log P(call-out | candidate) under it asks
"could this call-out be recovered from the candidate?", which a rewrite that invents or names the wrong harm
should fail. Plain torch loop, length-bucketed batches of 8, AdamW 3e-4; the adapter is saved every 100 steps
and the run resumes from the last one.

    python model_cards/judging/2026-12-07-reverse-model/train_reverse.py OUT_DIR [MAX_STEPS]
"""
import dataclasses
import json
import random
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from tqdm import tqdm

from callinkit.config import load_config
from callinkit.train.lm_base import smollm2_folder
from callinkit.train.lora import ADAPTER_FILE, add_lora, save_adapter
from callinkit.train.rewriter_lm import Collator, encode_example, load_lm, stage_rows

REVERSE_SYSTEM = "Write the harsh call-out that this call-in was rewritten from."
RANK, ALPHA, BATCH, LR = 16, 32, 8, 3e-4


def reversed_rows(seed: int = 42) -> list[dict]:
    cfg = load_config("configs/rewriter_lm_lora.yaml")
    stage = cfg.stages[0]
    rows = stage_rows(dataclasses.replace(stage, sources=[stage.sources[0]]), cfg)["train"]
    return [{"source": r["call_in"], "target": r["call_out"], "context": r.get("context")} for r in rows]


def main(out: Path, max_steps: int) -> None:
    torch.manual_seed(0)
    model, tok = load_lm(str(smollm2_folder()))
    add_lora(model, RANK, ALPHA)
    out.mkdir(parents=True, exist_ok=True)
    state = out / "state.json"
    step = 0
    if state.exists():
        step = json.loads(state.read_text())["step"]
        missing, unexpected = model.load_state_dict(load_file(str(out / "adapter" / ADAPTER_FILE)), strict=False)
        assert not unexpected and not [k for k in missing if "lora_" in k], (unexpected, missing)
    rows = reversed_rows()
    enc = [encode_example(tok, r["source"], r["target"], 192, REVERSE_SYSTEM, r["context"]) for r in rows]
    rng = random.Random(1234)
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]["input_ids"]) + rng.random())
    batches = [order[i:i + BATCH] for i in range(0, len(order), BATCH)]
    rng.shuffle(batches)
    collate = Collator(tok.pad_token_id)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR)
    model.train()
    losses = []
    bar = tqdm(total=max_steps, initial=step, desc="reverse LoRA")
    while step < max_steps:
        batch = collate([enc[i] for i in batches[step % len(batches)]])
        lr = LR * min(1.0, (step + 1) / 20) * max(0.1, 1 - step / max_steps)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        step += 1
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
        if step % 100 == 0 or step == max_steps:
            save_adapter(model, out / "adapter", RANK, ALPHA, dtype="float32")
            log = json.loads(state.read_text())["losses"] if state.exists() else []
            state.write_text(json.dumps({"step": step, "losses": log + losses, "time": time.time()}))
            losses = []


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 600)
