"""Prototype of the preference stage (session 13), run before the recipe had one; the same functions of
callinkit.train.preference, outside the config system. Reads files of the machine it ran on."""
import json
import random
import sys
import time
from pathlib import Path

import torch
from transformers import TrainingArguments

from callinkit.config import load_config
from callinkit.train import preference as P
from callinkit.train.lora import add_lora, save_adapter
from callinkit.train.rewriter_lm import load_lm, stage_rows, system_prompt

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
steps = int(sys.argv[2])
lr = float(sys.argv[3])
beta = float(sys.argv[4])
sft = float(sys.argv[5])
cfg = load_config(Path("runs/rewriter_lm_lora/config.yaml"))
splits = stage_rows(cfg.stages[0], cfg)
val = {r["call_out"]: r["call_in"] for r in splits["validation"] if r["source"] == "callin_corpus"}
J = Path("model_cards/judging")
rated = P.judged_candidates(J / "2026-12-04-logprob") + P.judged_choices(J / "2026-12-05-copy-boost")
pairs = P.preference_pairs(rated, val, set(val))
srcs = sorted({p["source"] for p in pairs})
random.Random(0).shuffle(srcs)
held = set(srcs[: len(srcs) // 10])
train_pairs = [p for p in pairs if p["source"] not in held]
held_pairs = [p for p in pairs if p["source"] in held]
print(len(pairs), "pairs from", len(srcs), "call-outs;", len(train_pairs), "train,", len(held_pairs),
      "held out")
# Run as `FRESH=1 python dpo_prototype.py runs/dpo/fresh1 112 5e-5 0.1 0.2` (a first try that went on training
# the supervised adapter itself was stopped after its reference pass; that branch is removed here).
# The recipe's way: a new adapter on the merged supervised model.
model, tok = load_lm("runs/rewriter_lm_lora/best")
print("layers", add_lora(model, 32, 64.0))
system = system_prompt(cfg)
def enc(ps):
    return [P.encode_pair(tok, p, cfg.model.max_length, system) for p in ps]
tr, he = enc(train_pairs), enc(held_pairs)
torch.manual_seed(0)
cache = Path("runs/dpo/refs.json")
if cache.is_file() and len(json.loads(cache.read_text())) == len(tr + he):
    for row, (a, b) in zip(tr + he, json.loads(cache.read_text())):
        row["ref_chosen"], row["ref_rejected"] = a, b
else:
    P.reference_logps(model, tr + he, tok.pad_token_id)
    cache.write_text(json.dumps([[r["ref_chosen"], r["ref_rejected"]] for r in tr + he]))
args = TrainingArguments(output_dir=str(out / "checkpoints"), max_steps=steps, disable_tqdm=False,
                         per_device_train_batch_size=8, per_device_eval_batch_size=16, learning_rate=lr,
                         lr_scheduler_type="linear", warmup_steps=0.1, logging_steps=5, eval_strategy="steps",
                         eval_steps=max(steps // 4, 1), save_strategy="steps", save_steps=max(steps // 4, 1),
                         save_total_limit=1, seed=42, use_cpu=True, report_to="none",
                         remove_unused_columns=False)
T = P.preference_trainer_class()
T.beta = beta
T.sft_weight = sft
trainer = T(model=model, args=args, train_dataset=tr, eval_dataset=he,
            data_collator=P.PairCollator(tok.pad_token_id))
t0 = time.time()
trainer.train()
print("train s", time.time() - t0)
save_adapter(model, out / "adapter", 32, 64.0)
json.dump(trainer.state.log_history, open(out / "log_history.json", "w"), indent=1)
