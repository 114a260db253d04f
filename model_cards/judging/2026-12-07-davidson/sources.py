"""The Davidson samples: per class (0 hate, 1 offensive, by majority), the distinct cleaned tweets shuffled with
seed 23; items [0, 150) are the development sample (`sweep.py`, read while writing the guard's rules) and
items [150, 350) the first held-out one, generated and judged after the first rules were fixed (then read to
write the second rules), items [350, 550) the second held-out one, for the second rules (then read to write
the wrong-addressee rule), items [550, 750) the third, for that rule, items [750, 950) the fourth (session 24), for the rules on bare
disagreements and profanity spelt as it sounds (then read to write the rules on sexual violence, "deserves to
get punched", "towel heads" and "mf"), items [950, 1150) the fifth, for those, and items [1150, 1350) the sixth (session 25), for the guard as
session 24 left it (its "kill yoself" rule was written after reading the fifth). `reddit` (session 25): the Reddit counter-speech
replies labelled hate by people, for the same guard on longer thread replies. After reading what the guard showed
for those two (session 25: slurs of hate forums no list knew), `heldout7` (items [1350, 1550): the last 80
hateful tweets and 200 offensive ones) and `reddit_gpt` (200 replies a model labelled hate), for the rules that
reading gave; then `reddit_gpt2` (the next 200), for the rule written after reading `reddit_gpt` (the message
without its profanity is checked as a neutral rewrite even where the classifier reads it as a call-in), and
`reddit_gpt3` (the next 200) for the words added after reading `reddit_gpt2` ("zog", "nogs", "mouth breather").
`reddit_gpt4` (items 600-699, which the hate probe does not learn from) and `offensive8` (offensive tweets
1550-1749) check that probe (`hate_probe.py`). `slur9` (session 26): the first 300 offensive tweets from item 1750 on
whose writer uses a slur (outside quotation marks), for the rule that such a message gets only a bare
disagreement (`callinkit.guard.slur_user_problems`), written after reading every earlier sample's verdicts; `gender10`: the first 300 offensive tweets from item 1750 on
with a gendered insult ("bitch", "hoe", ...) and no slur of the writer's, to measure the guard on them.

    python model_cards/judging/2026-12-07-davidson/sources.py dev|heldout|heldout2|heldout3|heldout4|heldout5|heldout6|heldout7|reddit|reddit_gpt|reddit_gpt2|reddit_gpt3|reddit_gpt4|offensive8|slur9|gender10 OUT.jsonl
"""
import json
import random
import sys
from pathlib import Path

import pandas as pd

from callinkit.corpus.proxies import _clean

PARTS = {"dev": (0, 150), "heldout": (150, 350), "heldout2": (350, 550), "heldout3": (550, 750), "heldout4": (750, 950), "heldout5": (950, 1150), "heldout6": (1150, 1350), "heldout7": (1350, 1550)}


def reddit_hate() -> list[dict]:
    """The 76 replies that Reddit counter-speech's human-labelled validation set labels hate (1), in file order:
    real thread replies, used by neither model (the classifier's pseudo-labels come from the other file)."""
    data = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "reddit_counterspeech" / "validation_set.csv"
    df = pd.read_csv(data)
    rows, seen = [], set()
    for r in df[df["label"] == 1].to_dict("records"):
        t = _clean(r["reply"], unescape=True)
        if t and t not in seen:
            seen.add(t)
            rows.append({"sample": "reddit_hate", "id": r["id"], "source": t})
    return rows


def reddit_gpt_hate(a: int = 0, b: int = 200) -> list[dict]:
    """Items [a, b) of a shuffle (seed 25) of the distinct replies that Reddit counter-speech's other file (`gpt_4o_labels.csv`)
    labels hate (1) by a model, none of them in the human-labelled file: unseen by both models too (the
    classifier's training maps label 1 to no label, and its pseudo-labels were not in the recipe's bundle)."""
    # the hate probe (callinkit.train.threat_probe) learns from the rest of this order
    from callinkit.train.threat_probe import reddit_hate_replies

    texts = reddit_hate_replies(Path(__file__).resolve().parents[3].parent / "shared" / "data")
    return [{"sample": "reddit_gpt_hate", "source": t} for t in texts[a:b]]


def sample(part: str) -> list[dict]:
    if part == "reddit":
        return reddit_hate()
    if part == "reddit_gpt":
        return reddit_gpt_hate()
    if part == "reddit_gpt2":  # the next 200, for the rules written after reading the first
        return reddit_gpt_hate(200, 400)
    if part == "reddit_gpt3":  # and the next, for those written after reading the second
        return reddit_gpt_hate(400, 600)
    if part == "reddit_gpt4":  # 100 more, held out from the hate-claim probe's training (hate_probe.py: items 700 on)
        return reddit_gpt_hate(600, 700)
    if part == "offensive8":  # offensive tweets 1550-1749 (no hateful ones are left), for the same probe
        return [r for r in _davidson(1550, 1750) if r["sample"] == "offensive"]
    if part == "slur9":  # offensive tweets from 1750 on whose writer uses a slur: the first 300
        from callinkit.guard import source_facts

        return [r for r in _davidson(1750, 4000) if r["sample"] == "offensive" and source_facts(r["source"]).own_slur][:300]
    if part == "gender10":  # offensive tweets from 1750 on with a gendered insult and no writer's slur: the first 300
        import re

        from callinkit.guard import source_facts

        insult = re.compile(r"\b(bitch\w*|hoes?|thots?|sluts?|whores?|pussy|pussies|skanks?)\b", re.I)
        return [r for r in _davidson(1750, 4000) if r["sample"] == "offensive" and insult.search(r["source"])
                and not source_facts(r["source"]).own_slur][:300]
    return _davidson(*PARTS[part])


def _davidson(a: int, b: int) -> list[dict]:
    data = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "davidson" / "labeled_data.csv"
    df = pd.read_csv(data)
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
