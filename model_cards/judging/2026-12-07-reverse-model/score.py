"""Noisy-channel scores of the judged validation candidates of on-policy rounds 2-5 (op1-op4's candidates,
rated blind): log P(call-out | candidate) under the reverse model (train_reverse.py), summed and per token,
and the same with an empty candidate (the call-out's own prior under the reverse prompt). Then how well each
score, alone and beside the forward model's log-probability, tells the not-bad candidates from the bad:
AUC, AUC within each call-out's candidates, and a logistic regression fitted on rounds 2-3 and tested on 4-5
(and the reverse).

    python model_cards/judging/2026-12-07-reverse-model/score.py ADAPTER_DIR OUT.json
"""
import collections
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "2026-12-07-quality-model"))
from data import load  # noqa: E402
from train_reverse import ALPHA, RANK, REVERSE_SYSTEM  # noqa: E402

from callinkit.train.lm_base import smollm2_folder  # noqa: E402
from callinkit.train.lora import ADAPTER_FILE, add_lora  # noqa: E402
from callinkit.train.rewriter_lm import Collator, encode_example, load_lm  # noqa: E402


@torch.no_grad()
def channel_scores(model, tok, pairs: list[tuple[str, str, str | None]], batch: int = 16) -> list[tuple[float, int]]:
    """(sum of log P(target tokens), number of target tokens) for each (candidate, call-out, context)."""
    enc = [encode_example(tok, cand, target, 256, REVERSE_SYSTEM, ctx) for cand, target, ctx in pairs]
    collate = Collator(tok.pad_token_id)
    out: list[tuple[float, int]] = [(0.0, 0)] * len(enc)
    order = sorted(range(len(enc)), key=lambda i: len(enc[i]["input_ids"]))
    for start in tqdm(range(0, len(order), batch), desc="channel scores"):
        idx = order[start:start + batch]
        b = collate([enc[i] for i in idx])
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[:, :-1]
        labels = b["labels"][:, 1:]
        lp = torch.log_softmax(logits.float(), -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
        mask = labels != -100
        for j, i in enumerate(idx):
            out[i] = (float((lp[j] * mask[j]).sum()), int(mask[j].sum()))
    return out


def within_auc(rows: list[dict], key: str) -> tuple[float, int]:
    by = collections.defaultdict(list)
    for r in rows:
        by[(r["round"], r["source"])].append(r)
    win = tot = 0.0
    for g in by.values():
        for a in g:
            for b in g:
                if a["y"] >= 0.5 and b["y"] < 0.5:
                    tot += 1
                    win += (a[key] > b[key]) + 0.5 * (a[key] == b[key])
    return win / tot, int(tot)


def report(rows: list[dict], features: tuple[str, ...], fits: list[tuple[str, ...]]) -> None:
    """Print each feature's AUC for not bad (over all candidates, and within a call-out's candidates), then a
    logistic regression on each feature set of `fits`, fitted on rounds 2-3 and tested on 4-5, and the reverse."""
    y = np.array([r["y"] >= 0.5 for r in rows])
    width = max(map(len, features)) + 1
    for f in features:
        w, t = within_auc(rows, f)
        print(f"{f:{width}s} AUC {roc_auc_score(y, [r[f] for r in rows]):.3f}   within a call-out {w:.3f} ({t} pairs)")
    rnd = np.array([r["round"] for r in rows])
    for train, test in (((2, 3), (4, 5)), ((4, 5), (2, 3))):
        tr, te = np.isin(rnd, train), np.isin(rnd, test)
        for names in fits:
            X = np.array([[r[f] for f in names] for r in rows])
            mu, sd = X[tr].mean(0), X[tr].std(0)
            m = LogisticRegression().fit((X[tr] - mu) / sd, y[tr])
            s = m.decision_function((X - mu) / sd)
            w, _ = within_auc([dict(r, _s=v) for r, v, keep in zip(rows, s, te) if keep], "_s")
            print(f"fit on rounds {train}, tested on {test}, {list(names)}: AUC {roc_auc_score(y[te], s[te]):.3f}, "
                  f"within a call-out {w:.3f}, coef {np.round(m.coef_[0], 2)}")


def main(adapter: Path, out: Path) -> None:
    rows = [r for r in load() if r["logprob"] is not None]
    if not out.exists():
        model, tok = load_lm(str(smollm2_folder()))
        add_lora(model, RANK, ALPHA)
        missing, unexpected = model.load_state_dict(load_file(str(adapter / ADAPTER_FILE)), strict=False)
        assert not unexpected and not [k for k in missing if "lora_" in k]
        model.eval()
        scores = channel_scores(model, tok, [(r["candidate"], r["source"], r["context"]) for r in rows])
        sources = sorted({(r["source"], r["context"] or "") for r in rows})
        prior = dict(zip(sources, channel_scores(model, tok, [("", s, c or None) for s, c in sources])))
        for r, (s, n) in zip(rows, scores):
            p, _ = prior[(r["source"], r["context"] or "")]
            r.update(channel_sum=s, channel_mean=s / n, channel_gain=(s - p) / n)
        out.write_text(json.dumps(rows))
    rows = json.loads(out.read_text())
    print(f"{len(rows)} judged candidates of {len({(r['round'], r['source']) for r in rows})} call-outs, "
          f"{sum(r['y'] >= 0.5 for r in rows)} not bad")
    report(rows, ("logprob", "channel_sum", "channel_mean", "channel_gain"),
           [("logprob",), ("channel_gain",), ("logprob", "channel_gain")])

if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
