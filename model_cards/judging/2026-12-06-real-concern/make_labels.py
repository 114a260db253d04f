"""The helpers' labels of 600 real comments -> labels.jsonl here, keyed by text hash (session 18).

    python model_cards/judging/2026-12-06-real-concern/make_labels.py [LABEL_FOLDER]

LABEL_FOLDER (default /work/r18/probe) holds items_N.jsonl ({id, text}), sources_N.jsonl ({id, source}) and
labels_N.jsonl ({id, threat, concern, note}) for N = 1..5, one labeller each, written by the session's
make_items.py: 420 toxic_spans train comments (Civil Comments, 20-250 characters), 90 CrowdCounter hate posts and
90 CrowdCounter shaming / warning-of-consequences / contradiction replies (15-250 characters), seed 18. Only the
keys, the sample and the labels are written: the texts stay in ../shared/data; `texts.py` finds them by key.
"""
import json
import sys
from pathlib import Path

from callinkit.train.threat_probe import text_key

folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/r18/probe")
out = []
for n in (1, 2, 3, 4, 5):
    texts = {json.loads(line)["id"]: json.loads(line)["text"] for line in open(folder / f"items_{n}.jsonl")}
    source = {json.loads(line)["id"]: json.loads(line)["source"] for line in open(folder / f"sources_{n}.jsonl")}
    labels = [json.loads(line) for line in open(folder / f"labels_{n}.jsonl")]
    if {x["id"] for x in labels} != set(texts):
        sys.exit(f"labeller {n} has not labelled every item")
    out += [{"key": text_key(texts[x["id"]]), "sample": source[x["id"]], "threat": x["threat"],
             "concern": x["concern"], "labeller": n} for x in labels]
out.sort(key=lambda r: r["key"])
path = Path(__file__).parent / "labels.jsonl"
path.write_text("".join(json.dumps(r) + "\n" for r in out))
print(len(out), "labels ->", path, "; threats", sum(r["threat"] == "yes" for r in out),
      "; no concern", sum(r["concern"] == "none" for r in out))
