"""The helpers' labels of 800 ParaDetox sources -> train/guard_labels/paradetox.jsonl, keyed by text hash.

    python model_cards/judging/2026-12-06-guard-real-text/make_labels.py [LABEL_FOLDER]

LABEL_FOLDER (default /work/r15/probe) holds items_N.jsonl ({id, text}) and labels_N.jsonl ({id, threat,
concern, note}) for N = 1..4, one labeller each. Only the keys and labels are written: ParaDetox's texts stay
in its own folder (../shared/data/paradetox), and train/threat_probe.py finds them by key.
"""
import json
import sys
from pathlib import Path

from callinkit.train.threat_probe import REAL_TEXT_LABELS, text_key

folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/r15/probe")
out = []
for n in (1, 2, 3, 4):
    texts = {json.loads(line)["id"]: json.loads(line)["text"] for line in open(folder / f"items_{n}.jsonl")}
    labels = [json.loads(line) for line in open(folder / f"labels_{n}.jsonl")]
    if {x["id"] for x in labels} != set(texts):
        sys.exit(f"labeller {n} has not labelled every item")
    out += [{"key": text_key(texts[x["id"]]), "threat": x["threat"], "concern": x["concern"], "labeller": n}
            for x in labels]
out.sort(key=lambda r: r["key"])
REAL_TEXT_LABELS.write_text("".join(json.dumps(r) + "\n" for r in out))
print(len(out), "labels ->", REAL_TEXT_LABELS, "; threats", sum(r["threat"] == "yes" for r in out),
      "; no concern", sum(r["concern"] == "none" for r in out))
