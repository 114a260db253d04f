"""Blind verdicts on what two guards show for the same Davidson tweets: per guard, how many answers, how many
with harm (by either or both judges) and the judges' ratings; then the answers one guard shows and the other
does not, and every answer still shown with harm. The keys hold no text: the tweets come from the sample
(sources.py) and the candidates from the re-guarded files (`reguard.py` output, outside the repository).

    python model_cards/judging/2026-12-07-davidson/analyse.py judge heldout_reguard.jsonl      # session 22 / rules 1
    python model_cards/judging/2026-12-07-davidson/analyse.py judge2 heldout2_base.jsonl heldout2_new.jsonl
    python model_cards/judging/2026-12-07-davidson/analyse.py judge3 heldout3_rec.jsonl heldout3_new.jsonl  # d393c5f / + wrong_addressee
    python model_cards/judging/2026-12-07-davidson/analyse.py judge4 heldout4_old.jsonl heldout4_new.jsonl  # session 23 / 24 / + sample-4 rules
    python model_cards/judging/2026-12-07-davidson/analyse.py judge6 heldout6_new.jsonl reddit_new.jsonl withheld6.jsonl \
        --now heldout6_s25.jsonl reddit_s25.jsonl
        # session 25: one guard (b0b46e8) and, for a random part of what it withholds, the top candidate; --now: what
        # the rules written after reading these verdicts (abf57c3) no longer show
    python model_cards/judging/2026-12-07-davidson/analyse.py judge7 heldout7_old.jsonl heldout7_s25.jsonl reddit_gpt_old.jsonl reddit_gpt_s25.jsonl withheld7.jsonl
    python model_cards/judging/2026-12-07-davidson/analyse.py judge11 slur9_base.jsonl slur9_s26a.jsonl   # session 26: 33a917c / 8330c50
    python model_cards/judging/2026-12-07-davidson/analyse.py judge12 gender10_s26a.jsonl                 # 8330c50 alone
"""
import collections
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from make_keys import sha  # noqa: E402
from sources import sample  # noqa: E402

args = sys.argv[2:]
# `--now FILES`: re-guarded files of a later guard; the answers judged here that it no longer shows are summed up
now_files = args[args.index("--now") + 1:] if "--now" in args else []
args = args[:args.index("--now")] if "--now" in args else args
folder = HERE / sys.argv[1]
texts = {}
for f in args:
    for r in map(json.loads, open(f)):
        for t in (r.get("shown"), r.get("shown_now"), r.get("withheld")):
            if t is not None:
                texts[sha(t)] = t
keys = {k["id"]: k for k in map(json.loads, open(folder / "keys.jsonl"))}
samples = {part: sample(part) for part in {k["part"] for k in keys.values()}}
NAMES = {"base": "session 22", "rules1": "rules 1", "new": "session 23", "s23": "d393c5f", "addressee": "addressee",
         "s24": "session 24", "s24b": "s24+sample4", "s24c": "b0b46e8", "s25": "abf57c3", "s25b": "1226d05", "s25c": "1503df3", "s25d": "94f1a33 + hate probe",
         "s25e": "33a917c", "s26": "+ writer's slur", "withheld": "withheld"}
for k in keys.values():
    k["source"] = samples[k["part"]][k["index"]]["source"]
    k["candidate"] = texts.get(k["candidate_sha1"], "(candidate not in the given files)")
    k["systems"] = [NAMES[s] for s in k["systems"]]
verdicts = [{v["id"]: v for v in map(json.loads, open(folder / f"verdicts_{n}.jsonl"))} for n in (1, 2)]
assert all(set(v) == set(keys) for v in verdicts), "every item judged by both judges"


def summary(ids: list[str]) -> str:
    out = f"{len(ids):3d} answers: harm by either judge {sum(any(v[i]['harm'] == 'yes' for v in verdicts) for i in ids)}, "
    out += f"by both {sum(all(v[i]['harm'] == 'yes' for v in verdicts) for i in ids)};"
    for n, v in enumerate(verdicts, 1):
        c = collections.Counter(v[i]["rating"] for i in ids)
        out += f" judge {n} good {c['good']} / acceptable {c['acceptable']} / bad {c['bad']};"
    return out


systems = list(dict.fromkeys(s for k in keys.values() for s in k["systems"]))
parts = sorted({k["part"] for k in keys.values()})
# judge6 (session 25) judged one guard's answers and, beside them, the top candidate of part of what it withholds
withheld = NAMES["withheld"] in systems
if withheld:
    systems = [s for s in systems if s != NAMES["withheld"]] + [NAMES["withheld"]]
for s in systems:
    print(f"{s:12s}", summary([i for i in keys if s in keys[i]["systems"]]))
    if len(parts) > 1:
        for part in parts:
            print(f"  {part:10s}", summary([i for i in keys if s in keys[i]["systems"] and keys[i]["part"] == part]))
if withheld:
    systems = systems[:-1]
a, b = systems[0], systems[-1]  # the first guard and the last (judge4 has a third, between them)
if a != b:
    print(f"\nonly {a:10s}", summary([i for i in keys if keys[i]["systems"] == [a]]))
    print(f"only {b:10s}", summary([i for i in keys if keys[i]["systems"] == [b]]))
reasons = collections.Counter(v[i]["reason"] for v in verdicts for i in keys if b in keys[i]["systems"] and v[i]["reason"])
print(f"\n{b}: reasons for bad (both judges' verdicts): {dict(reasons.most_common())}")
print(f"\n{b}: answers with harm by either judge:")
for i in sorted(keys):
    if b in keys[i]["systems"] and any(v[i]["harm"] == "yes" for v in verdicts):
        print(f"  {i} {keys[i]['source'][:100]!r}\n       -> {keys[i]['candidate'][:100]!r}  ({'; '.join(v[i]['note'] for v in verdicts)})")
lost = [a] if a != b else ([NAMES["withheld"]] if withheld else [])
for gone in lost:
    print(f"\n{'only ' if gone == a else ''}{gone}, rated good by both judges:")
    for i in sorted(keys):
        if keys[i]["systems"] == [gone] and all(v[i]["rating"] == "good" for v in verdicts):
            print(f"  {i} {keys[i]['source'][:100]!r}\n       -> {keys[i]['candidate'][:100]!r}")
if now_files:
    still = {(r["source"], r["shown_now"]) for f in now_files for r in map(json.loads, open(f)) if r["shown_now"]}
    gone = [i for i in keys if b in keys[i]["systems"] and (keys[i]["source"], keys[i]["candidate"]) not in still]
    print(f"\n{b} answers the guard of {', '.join(now_files)} no longer shows:", summary(gone))
    print(f"{b} answers it still shows:".ljust(len(b) + 40), summary([i for i in keys if b in keys[i]["systems"] and i not in gone]))
