"""The Davidson samples: per class (0 hate, 1 offensive, by majority), the distinct cleaned tweets shuffled with
seed 23; items [0, 150) are the development sample (`sweep.py`, read while writing the guard's rules) and
items [150, 350) the first held-out one, generated and judged after the first rules were fixed (then read to
write the second rules), items [350, 550) the second held-out one, for the second rules (then read to write
the wrong-addressee rule), items [550, 750) the third, for that rule, items [750, 950) the fourth (session 24), for the rules on bare
disagreements and profanity spelt as it sounds (then read to write the rules on sexual violence, "deserves to
get punched", "towel heads" and "mf"), and items [950, 1150) the fifth, for those.

    python model_cards/judging/2026-12-07-davidson/sources.py dev|heldout|heldout2|heldout3|heldout4|heldout5 OUT.jsonl
"""
import json
import random
import sys
from pathlib import Path

import pandas as pd

from callinkit.corpus.proxies import _clean

PARTS = {"dev": (0, 150), "heldout": (150, 350), "heldout2": (350, 550), "heldout3": (550, 750), "heldout4": (750, 950), "heldout5": (950, 1150)}


def sample(part: str) -> list[dict]:
    data = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "davidson" / "labeled_data.csv"
    df = pd.read_csv(data)
    a, b = PARTS[part]
    rows = []
    for cls, name in ((0, "hate"), (1, "offensive")):
        texts = sorted({_clean(t, unescape=True) for t in df[df["class"] == cls]["tweet"]} - {""})
        random.Random(23).shuffle(texts)
        rows += [{"sample": name, "source": t} for t in texts[a:b]]
    return rows


if __name__ == "__main__":
    with open(sys.argv[2], "w") as f:
        for r in sample(sys.argv[1]):
            f.write(json.dumps(r) + "\n")
