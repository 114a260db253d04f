"""Items for the second round of real-text guard labels (session 16): ParaDetox sentences with a violent word
that the first round did not label, from its pairs and from `paradetox_cannot_rewrite.tsv` (the sentences its
annotators could not detoxify), shuffled (seed 16) and dealt to four labellers.

    python model_cards/judging/2026-12-06-real-threats/make_items.py [LABEL_FOLDER]

Writes LABEL_FOLDER/items_N.jsonl ({id, text}, N = 1..4; default /work/r16/probe). The texts stay outside the
repository; make_labels.py keeps only their keys.
"""
import json
import random
import re
import sys
from pathlib import Path

from callinkit.config import SourceConfig
from callinkit.train.data import source_rows
from callinkit.train.threat_probe import REAL_TEXT_LABELS, _cannot_rewrite_texts, text_key

PARADETOX = Path("../shared/data/paradetox")
VIOLENT = re.compile(r"\b(kill|killed|killing|shoot|shot|stab|punch|beat (you|ur|your|his|her|the)|hang(ed)?|murder|"
                     r"die|dead|hurt|choke|strangle|burn|bury|smash|break (your|ur|his|her)|slap|knock|rape|bullet|"
                     r"gun|knife|hunt|find you|watch your back|come for|fuck you up|beat the|curb ?stomp|skull|neck|"
                     r"throat|teeth|face)\b", re.IGNORECASE)

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/r16/probe")
labelled = {json.loads(line)["key"] for line in REAL_TEXT_LABELS.open() if line.strip()}
texts = {}
for r in source_rows(SourceConfig(name="paradetox", path=str(PARADETOX)), "pairs"):
    texts.setdefault(text_key(r["call_out"]), r["call_out"])
for t in _cannot_rewrite_texts(PARADETOX):
    texts.setdefault(text_key(t), t)
hits = sorted((k, t) for k, t in texts.items() if k not in labelled and VIOLENT.search(t))
random.Random(16).shuffle(hits)
out.mkdir(parents=True, exist_ok=True)
for n in (1, 2, 3, 4):
    part = [{"id": f"t{i:03d}", "text": t} for i, (_, t) in enumerate(hits) if i % 4 == n - 1]
    (out / f"items_{n}.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in part))
print(len(hits), "items")
