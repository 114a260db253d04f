"""The labelled texts of labels.jsonl, found by key in ../shared/data (toxic_spans, crowdcounter)."""
import csv
import json
from pathlib import Path

from callinkit.train.threat_probe import text_key

HERE = Path(__file__).parent


def labelled_rows(data: str | Path = "../shared/data") -> list[dict]:
    """{text, threat, no_concern, fold, sample} per label; fold "validation" for a fixed quarter by key."""
    data = Path(data)
    with open(data / "toxic_spans" / "tsd_train.csv", encoding="utf-8", newline="") as fh:
        texts = [r["text"].strip() for r in csv.DictReader(fh)]
    cc = json.loads((data / "crowdcounter" / "Final_Dataset.json").read_text(encoding="utf-8"))
    texts += [v["post"].strip() for v in cc.values()]
    texts += [w["counterspeech"].strip() for v in cc.values() for w in v["counterspeech_post"].values()]
    by_key = {text_key(t): t for t in texts}
    rows = []
    for line in open(HERE / "labels.jsonl"):
        r = json.loads(line)
        rows.append({"text": by_key[r["key"]], "threat": r["threat"] == "yes", "no_concern": r["concern"] == "none",
                     "fold": "validation" if int(r["key"], 16) % 4 == 0 else "train", "sample": r["sample"]})
    return rows
