"""How well do the classifier's explanations find the words that make a text hostile? Agreement with the
toxic-spans proxy (Civil Comments posts with human-marked toxic character offsets), as SemEval-2021 Task 5
scores it: per-post F1 over character offsets, averaged (a post with no gold span scores 1 when nothing is
predicted, else 0).

Two methods explain the same `call_out` probability (the harm direction, whatever the predicted label):
  - occlusion: `Classifier.explain` on the exported ONNX bundle (what the library, CLI and server use);
  - gradient x input: on the PyTorch checkpoint, the gradient of the call_out log-odds with respect to the
    word-piece embeddings, dotted with them, summed over each word's pieces (offline only: needs torch).
Both turn word scores into spans with the same rule (words at least `relative` x the text's best score), and
`relative` is chosen on the proxy's trial split before the test split is scored.

    python -m callinkit.train.explain_eval --bundle callinkit/models/classifier --checkpoint runs/x/best
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

RELATIVE_GRID = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def read_toxic_spans(path: Path, n: int | None, seed: int = 0) -> list[tuple[str, set[int]]]:
    """(text, gold character offsets) rows of a toxic-spans CSV (`spans, text`)."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [(r["text"], set(ast.literal_eval(r["spans"]))) for r in csv.DictReader(fh)]
    if n is not None and n < len(rows):
        rows = random.Random(seed).sample(rows, n)
    return rows


def span_f1(predicted: set[int], gold: set[int]) -> float:
    """SemEval-2021 Task 5 per-post F1 over character offsets."""
    if not gold:
        return 1.0 if not predicted else 0.0
    if not predicted:
        return 0.0
    tp = len(predicted & gold)
    if tp == 0:
        return 0.0
    p, r = tp / len(predicted), tp / len(gold)
    return 2 * p * r / (p + r)


def chars_from_words(words: Sequence[tuple[int, int, float]], relative: float, min_score: float) -> set[int]:
    """Offsets of the words scoring at least relative x the best word (and at least min_score)."""
    best = max((s for _, _, s in words), default=0.0)
    if best < min_score:
        return set()
    cut = max(min_score, relative * best)
    return {i for a, b, s in words if s >= cut for i in range(a, b)}


def occlusion_words(bundle: str, texts: Sequence[str], window: int = 1) -> list[list[tuple[int, int, float]]]:
    from callinkit.serve import Classifier

    clf = Classifier.load(bundle)
    out = []
    for start in range(0, len(texts), 32):
        for e in clf.explain(list(texts[start:start + 32]), label="call_out", window=window):
            out.append([(w.start, w.end, w.score) for w in e.words])
    return out


def gradient_words(checkpoint: str, texts: Sequence[str], max_length: int = 128,
                   kind: str = "x_input") -> list[list[tuple[int, int, float]]]:
    """Word scores from gradients: `x_input` (gradient . embedding, signed) or `l2` (the gradient's norm,
    plain saliency)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from callinkit.serve.classifier import word_spans

    tok = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    k = [model.config.id2label[i] for i in range(model.config.num_labels)].index("call_out")
    out = []
    for text in texts:
        enc = tok(text, truncation=True, max_length=max_length, return_offsets_mapping=True, return_tensors="pt",
                  return_token_type_ids=False)
        offsets = enc.pop("offset_mapping")[0].tolist()
        embeds = model.get_input_embeddings()(enc["input_ids"]).detach().requires_grad_(True)
        logp = torch.log_softmax(model(inputs_embeds=embeds, attention_mask=enc["attention_mask"]).logits[0], -1)
        odds = logp[k] - torch.log1p(-logp[k].exp().clamp(max=1 - 1e-6))
        odds.backward()
        if kind == "l2":
            per_piece = embeds.grad[0].norm(dim=-1).tolist()
        else:
            per_piece = (embeds.grad[0] * embeds[0]).sum(-1).tolist()
        words = []
        for a, b in word_spans(text, 64):
            score = sum(s for (x, y), s in zip(offsets, per_piece) if y > x and x < b and y > a)
            words.append((a, b, float(score)))
        out.append(words)
    return out


def evaluate(words_fn: Callable[[Sequence[str]], list], trial, test, min_score: float) -> dict:
    """Choose `relative` on trial, then score test; returns both."""
    trial_words = words_fn([t for t, _ in trial])
    by_rel = {r: float(np.mean([span_f1(chars_from_words(w, r, min_score), g) for w, (_, g) in zip(trial_words, trial)]))
              for r in RELATIVE_GRID}
    relative = max(by_rel, key=by_rel.get)
    test_words = words_fn([t for t, _ in test])
    f1 = float(np.mean([span_f1(chars_from_words(w, relative, min_score), g) for w, (_, g) in zip(test_words, test)]))
    return {"relative": relative, "trial_f1_by_relative": by_rel, "test_f1": f1}


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", required=True, help="classifier bundle (occlusion, ONNX)")
    parser.add_argument("--checkpoint", help="its PyTorch checkpoint (gradient x input); omit to skip")
    parser.add_argument("--data", default="../shared/data/toxic_spans")
    parser.add_argument("--n-trial", type=int, default=300)
    parser.add_argument("--n-test", type=int, default=600)
    parser.add_argument("--out", default="runs/explain_eval.json")
    parser.add_argument("--skip-occlusion", action="store_true", help="only the gradient methods")
    parser.add_argument("--windows", type=int, nargs="+", default=[1, 3],
                        help="occlusion run lengths to compare (1 = single words)")
    args = parser.parse_args(argv)

    from callinkit.serve.classifier import EXPLAIN_MIN_SCORE

    data = Path(args.data)
    trial = read_toxic_spans(data / "tsd_trial.csv", args.n_trial)
    test = read_toxic_spans(data / "tsd_test.csv", args.n_test)
    results = {"n_trial": len(trial), "n_test": len(test), "min_score": EXPLAIN_MIN_SCORE}
    if not args.skip_occlusion:
        for window in args.windows:
            name = "occlusion" if window == 1 else f"occlusion_window_{window}"
            results[name] = evaluate(lambda t, w=window: occlusion_words(args.bundle, t, w), trial, test,
                                     EXPLAIN_MIN_SCORE)
    if args.checkpoint:
        results["gradient_x_input"] = evaluate(lambda t: gradient_words(args.checkpoint, t), trial, test, 1e-6)
        results["gradient_l2"] = evaluate(lambda t: gradient_words(args.checkpoint, t, kind="l2"), trial, test, 1e-6)
    all_words = [(a, b) for t, _ in test for a, b in [(0, len(t))]]
    results["baseline_whole_text"] = float(np.mean([span_f1(set(range(a, b)), g) for (a, b), (_, g)
                                                    in zip(all_words, test)]))
    for name in [k for k in results if k.startswith(("occlusion", "gradient"))]:
        if name in results:
            print(f"{name:<18} relative {results[name]['relative']:.1f}  toxic-spans char F1 "
                  f"{results[name]['test_f1']:.3f} (test, n={len(test)})")
    print(f"{'whole text':<18} toxic-spans char F1 {results['baseline_whole_text']:.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()
