"""Pseudo-labelled real text for the classifier (#12): unlabelled posts from the public proxies, labelled by a
teacher (one classifier bundle or an agreeing ensemble), kept only where the teacher is sure.

    python -m callinkit.train.pseudo_label --teacher callinkit/models/classifier --teacher bundles/classifier_v2 \
        --data-dir ../shared/data --out runs/pseudo/real_text.jsonl

The pool is the real text that the label maps in `callinkit.corpus.proxies` drop as ambiguous, from the
*training* side of each corpus only, so that no evaluation slice is touched:

- reddit_counterspeech `gpt_4o_labels.csv` replies labelled hate (1) or counterspeech (2): real replies that
  confront someone, hostile and inviting alike, which the corpus cannot tell apart;
- crowdcounter `Train.json` responses of the types mapped to None (humour, contradiction);
- tydip `en_train.csv` requests in the "impolite" band (-2 < score < 0);
- the toxic side of ParaDetox (rows whose seeded split is train, as `build_splits` would assign it);
- toxic_spans `tsd_train.csv` posts (its trial and test files score `explain`).

The two toxic pools never take `call_in` (POOL_LABELS).

Texts that appear in the corpus (any split) or in any proxy's validation or test rows are left out. Every
teacher must give the same label, and their mean probability of it must reach `--min-prob`; `--cap` limits the
rows a source contributes per label, so one large pool cannot swamp the mix. Each output row is
`{"text", "label", "split": "train", "pool", "teacher_prob"}`; a summary of counts goes to stdout and to
`OUT.summary.json`. Use it as a `jsonl` source in a classifier config.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from callinkit.errors import DataError

POOLS = ("reddit_counterspeech", "crowdcounter", "tydip", "paradetox", "toxic_spans")
# Labels a pool may receive. Every ParaDetox source sentence and every toxic_spans post holds an insult or
# profanity that annotators marked, and a call-in attacks no one (LABELS.md): the teachers' call_in on those
# pools was always a rhetorical-question attack ("WTH is wrong with these sociopaths?"), so it is not used.
POOL_LABELS: dict[str, tuple[str, ...]] = {"paradetox": ("call_out", "neutral"), "toxic_spans": ("call_out", "neutral")}


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _reddit(folder: Path) -> list[str]:
    from callinkit.corpus.proxies import _clean, _read_table

    df = _read_table(folder / "gpt_4o_labels.csv", ("reply", "label"))
    return [_clean(r["reply"], unescape=True) for r in df.to_dict("records") if str(r["label"]).strip() in ("1", "2")]


def _crowdcounter(folder: Path) -> list[str]:
    from callinkit.corpus.proxies import CROWDCOUNTER_LABELS

    out = []
    with open(folder / "Train.json", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                if CROWDCOUNTER_LABELS.get(obj.get("required_types")) is None:
                    out.append(str(obj.get("counterspeech", "")).strip())
    return out


def _tydip(folder: Path) -> list[str]:
    from callinkit.corpus.proxies import _read_table, tydip_band

    df = _read_table(folder / "en_train.csv", ("sentence", "score"))
    return [str(r["sentence"]).strip() for r in df.to_dict("records") if tydip_band(float(r["score"])) == "impolite"]


def _paradetox(folder: Path, seed: int) -> list[str]:
    from callinkit.corpus.proxies import _clean, _read_table
    from callinkit.train.data import assign_missing_splits

    df = _read_table(folder / "paradetox.tsv", ("toxic",), sep="\t")
    rows = [{"text": _clean(r["toxic"]), "split": None} for r in df.to_dict("records")]
    assign_missing_splits(rows, 0.1, 0.1, seed)
    return [r["text"] for r in rows if r["split"] == "train"]


def _toxic_spans(folder: Path) -> list[str]:
    from callinkit.corpus.proxies import _read_table

    df = _read_table(folder / "tsd_train.csv", ("spans", "text"))
    return [str(r["text"]).strip() for r in df.to_dict("records")]


def pool_texts(data_dir: Path, pools: tuple[str, ...] = POOLS, seed: int = 42) -> dict[str, list[str]]:
    """The unlabelled texts of each pool, as read from `data_dir` (the shared/data folder)."""
    readers = {"reddit_counterspeech": _reddit, "crowdcounter": _crowdcounter, "tydip": _tydip,
               "paradetox": lambda f: _paradetox(f, seed), "toxic_spans": _toxic_spans}
    out = {}
    for name in pools:
        if name not in readers:
            raise DataError(f"unknown pool {name!r}; expected some of {list(readers)}")
        folder = data_dir / name
        if not folder.is_dir():
            raise DataError(f"{folder}: no such folder; --data-dir should be the shared/data folder that holds {name}/")
        out[name] = [t for t in readers[name](folder) if t]
    return out


def held_out_texts(data_dir: Path) -> set[str]:
    """Normalised texts that must not be pseudo-labelled: the whole corpus and every proxy's validation/test rows."""
    from callinkit.corpus import KINDS, classification_rows, read_records, read_splits
    from callinkit.corpus.proxies import PROXIES, load_proxy

    records = {kind: read_records(kind) for kind in KINDS}
    seen = {_norm(r["text"]) for r in classification_rows(records, read_splits())}
    for name in PROXIES:
        if (data_dir / name).is_dir():
            seen |= {_norm(r["text"]) for r in load_proxy(name, data_dir / name, "classification")
                     if r["split"] in ("validation", "test")}
    return seen


def teacher_probs(teachers: list[Any], texts: list[str], batch_size: int = 64) -> np.ndarray:
    """(teachers, texts, labels) calibrated probabilities; every teacher must share the label order."""
    from tqdm.auto import tqdm

    labels = teachers[0].labels
    for t in teachers[1:]:
        if list(t.labels) != list(labels):
            raise DataError(f"teachers disagree on the label order: {labels} vs {t.labels}")
    out = np.zeros((len(teachers), len(texts), len(labels)), dtype=np.float32)
    for i in tqdm(range(0, len(texts), batch_size), desc="teachers", unit="batch"):
        chunk = texts[i:i + batch_size]
        for k, t in enumerate(teachers):
            out[k, i:i + len(chunk)] = t.predict_proba(chunk)
    return out


def select(probs: np.ndarray, min_prob: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(keep mask, label index, mean probability of it): kept where every teacher's top label is the same and
    the teachers' mean probability of that label is at least `min_prob`."""
    tops = probs.argmax(axis=2)  # (teachers, texts)
    agree = (tops == tops[0]).all(axis=0)
    label = tops[0]
    mean = probs.mean(axis=0)[np.arange(probs.shape[1]), label]
    return agree & (mean >= min_prob), label, mean


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m callinkit.train.pseudo_label", description=__doc__.split("\n\n")[0])
    ap.add_argument("--teacher", action="append", required=True, help="a classifier bundle (repeat for an ensemble)")
    ap.add_argument("--data-dir", default="../shared/data", help="the shared/data folder (default ../shared/data)")
    ap.add_argument("--out", required=True, help="the JSONL file to write")
    ap.add_argument("--min-prob", type=float, default=0.9, help="mean teacher probability to keep a row (0.9)")
    ap.add_argument("--cap", type=int, default=1500, help="most rows per pool and label (1500)")
    ap.add_argument("--pools", nargs="+", default=list(POOLS), choices=POOLS)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    if not 0 < args.min_prob <= 1:
        ap.error(f"--min-prob must be in (0, 1], got {args.min_prob}")

    from callinkit.serve.classifier import Classifier

    data_dir = Path(args.data_dir)
    teachers = [Classifier.load(t) for t in args.teacher]
    held = held_out_texts(data_dir)
    pools = pool_texts(data_dir, tuple(args.pools), args.seed)
    texts, names, seen = [], [], set()
    for name, pool in pools.items():
        for t in pool:
            key = _norm(t)
            if key not in held and key not in seen:
                seen.add(key)
                texts.append(t)
                names.append(name)
    probs = teacher_probs(teachers, texts)
    keep, label, mean = select(probs, args.min_prob)
    labels = teachers[0].labels
    rng = random.Random(args.seed)
    by_group: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for i in np.flatnonzero(keep):
        if labels[label[i]] not in POOL_LABELS.get(names[i], labels):
            continue
        row = {"text": texts[i], "label": labels[label[i]], "split": "train", "pool": names[i],
               "teacher_prob": round(float(mean[i]), 4)}
        by_group.setdefault((names[i], row["label"]), []).append(row)
    rows = []
    for key in sorted(by_group):
        group = by_group[key]
        rng.shuffle(group)
        rows.extend(group[:args.cap])
    rng.shuffle(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, out)
    summary = {
        "teachers": args.teacher, "min_prob": args.min_prob, "cap": args.cap,
        "pool": dict(Counter(names)),
        "agreeing_and_sure": dict(Counter(f"{names[i]}:{labels[label[i]]}" for i in np.flatnonzero(keep))),
        "teachers_disagree": int((~(probs.argmax(2) == probs.argmax(2)[0]).all(0)).sum()),
        "written": dict(Counter(f"{r['pool']}:{r['label']}" for r in rows)), "rows": len(rows),
    }
    Path(str(out) + ".summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
