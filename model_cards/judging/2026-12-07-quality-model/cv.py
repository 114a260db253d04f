"""A MiniLM cross-encoder (source, candidate) -> P(not bad), fine-tuned on the judged validation candidates and
scored by 3-fold cross-validation grouped by source (no source in both folds).

    PYTHONPATH=. python cv.py [EPOCHS]      # 3 epochs: ~27 min on the 2-core CPU; writes cv_preds_e3.json
"""
import json
import random
import sys
import time

import torch
from data import load
from sklearn.metrics import roc_auc_score
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from callinkit.train.base_model import packaged_minilm_dir

torch.manual_seed(0)
random.seed(0)
torch.set_num_threads(2)
EPOCHS = float(sys.argv[1]) if len(sys.argv) > 1 else 3
LR, BATCH, MAX_LENGTH = 5e-5, 16, 256
rows = load()
sources = sorted({r["source"] for r in rows})
random.Random(0).shuffle(sources)
fold_of = {s: i % 3 for i, s in enumerate(sources)}
base = str(packaged_minilm_dir())
tokenizer = AutoTokenizer.from_pretrained(base)


def encode(batch):
    firsts = [(f"{r['context']} || " if r.get("context") else "") + r["source"] for r in batch]
    return tokenizer(firsts, [r["candidate"] for r in batch], truncation=True, max_length=MAX_LENGTH, padding=True,
                     return_tensors="pt")


preds = {}
for fold in range(3):
    train = [r for r in rows if fold_of[r["source"]] != fold]
    test = [r for r in rows if fold_of[r["source"]] == fold]
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    steps = int(EPOCHS * ((len(train) + BATCH - 1) // BATCH))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s, n=steps: min(1, (s + 1) / (0.06 * n)) * max(0.0, 1 - s / n))
    model.train()
    t0, step = time.time(), 0
    while step < steps:
        random.shuffle(train)
        for i in range(0, len(train), BATCH):
            if step >= steps:
                break
            batch = train[i:i + BATCH]
            logits = model(**encode(batch)).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([r["y"] for r in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if step % 20 == 0:
                print(f"fold {fold} step {step}/{steps} loss {loss.item():.3f} {time.time() - t0:.0f}s", flush=True)
    model.eval()
    with torch.no_grad():
        for i in range(0, len(test), 64):
            batch = test[i:i + 64]
            for r, logit in zip(batch, model(**encode(batch)).logits.squeeze(-1).tolist()):
                preds[(r["round"], r["id"])] = logit
json.dump([{"round": k[0], "id": k[1], "qe": v} for k, v in preds.items()], open(f"cv_preds_e{EPOCHS:g}.json", "w"))
print("AUC", roc_auc_score([r["y"] >= 0.5 for r in rows], [preds[(r["round"], r["id"])] for r in rows]))
