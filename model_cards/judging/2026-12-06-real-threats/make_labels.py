"""The helpers' labels of the second round (session 16) -> appended to train/guard_labels/paradetox.jsonl.

    python model_cards/judging/2026-12-06-real-threats/make_labels.py [LABEL_FOLDER]

LABEL_FOLDER (default /work/r16/probe) holds items_N.jsonl ({id, text}) and labels_N.jsonl ({id, threat,
concern, note}) for N = 1..4, one labeller each (numbered 5..8 in the labels file). Texts of ParaDetox pairs
that the rewriter recipes hold out (validation or test by the recipes' hash split, so possibly in `callinkit
eval`'s held-out ParaDetox slice) are left out. Only keys and labels are written, as in the first round, each
marked `"sample": "violent_words"`: the no-concern probe learns only from the first round's random sample.
"""
import json
import sys
from pathlib import Path

from callinkit.config import SourceConfig
from callinkit.train.data import assign_missing_splits, source_rows
from callinkit.train.threat_probe import REAL_TEXT_LABELS, text_key

folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/r16/probe")
pd_rows = source_rows(SourceConfig(name="paradetox", path="../shared/data/paradetox"), "pairs")
assign_missing_splits(pd_rows, 0.05, 0.05, 42)  # as train/rewriter_eval.py and the recipes
held_out = {text_key(r["call_out"]) for r in pd_rows if r["split"] != "train"}
old = [json.loads(line) for line in REAL_TEXT_LABELS.open() if line.strip()]
known = {r["key"] for r in old}
new, dropped = [], 0
for n in (1, 2, 3, 4):
    texts = {json.loads(line)["id"]: json.loads(line)["text"] for line in open(folder / f"items_{n}.jsonl")}
    labels = [json.loads(line) for line in open(folder / f"labels_{n}.jsonl")]
    if {x["id"] for x in labels} != set(texts):
        sys.exit(f"labeller {n} has not labelled every item")
    for x in labels:
        key = text_key(texts[x["id"]])
        if key in held_out:
            dropped += 1
        elif key not in known:
            known.add(key)
            new.append({"key": key, "threat": x["threat"], "concern": x["concern"], "labeller": n + 4,
                        "sample": "violent_words"})
rows = sorted(old + new, key=lambda r: r["key"])
REAL_TEXT_LABELS.write_text("".join(json.dumps(r) + "\n" for r in rows))
print(len(new), "new labels (", sum(r["threat"] == "yes" for r in new), "threats;", dropped,
      "held-out texts left out ) ->", REAL_TEXT_LABELS, "; now", len(rows))
