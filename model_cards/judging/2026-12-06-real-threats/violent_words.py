"""Measured, not built: refuse a candidate that keeps a violent word of its source (kill, die, slap, ...)?
On the round-4 judged validation candidates, the shown ParaDetox suggestions of eval_op3_cand.json, the real
threats' suggestions (missed_op3_cand.json) and the 141 judged rows.

    python model_cards/judging/2026-12-06-real-threats/violent_words.py
"""
import collections
import json
import re
from pathlib import Path

V = re.compile(r"\b(kill(s|ed|ing)?|shoot(s|ing)?|shot|stab(s|bed|bing)?|punch(es|ed|ing)?|beat(s|ing)?|hang(s|ed|ing)?|murder(s|ed|ing)?|die[sd]?|dying|dead|choke[sd]?|chok(ing)?|strangle[sd]?|burn(s|ed|ing)?|bury|smash(es|ed|ing)?|slap(s|ped|ping)?|rape[sd]?|raping|bullet|gun(s|ned)?|knife|curb ?stomp|whoop(ed|ing)?|fuck (you|u|him|her|them) up)\b", re.I)
F = Path("model_cards/judging/2026-12-06-onpolicy-round4")
items = {json.loads(line)["id"]: json.loads(line) for line in open(F / "items.jsonl")}
ver = {}
for n in (1, 2, 3, 4):
    for line in open(F / f"verdicts_{n}.jsonl"):
        v = json.loads(line)
        ver[v["id"]] = v
c = collections.Counter()
for i, v in ver.items():
    it = items[i]
    src = set(m.group(0).lower() for m in V.finditer(it["source"]))
    cand = set(m.group(0).lower() for m in V.finditer(it["candidate"]))
    hit = bool(src and cand)
    k = v["rating"] if v["rating"] != "bad" else "bad:" + v["reason"]
    c[(k, hit)] += 1
    if hit and v["rating"] != "bad":
        print("NOT BAD:", it["source"][:80], "->", it["candidate"][:100])
for k in sorted(c):
    print(k, c[k])
ev = json.load(open("model_cards/judging/2026-12-06-real-threats/eval_op3_cand.json"))["samples"]["paradetox_heldout"]
n = 0
for r in ev:
    if r["model_reranked"] and V.search(r["source"]) and V.search(r["model_reranked"]):
        n += 1
        print("PD:", r["source"][:80], "->", r["model_reranked"])
print("paradetox shown hit", n)
for r in json.load(open("model_cards/judging/2026-12-06-real-threats/missed_op3_cand.json")):
    if r["suggestion"]:
        print("threat:", bool(V.search(r["source"]) and V.search(r["suggestion"])), r["suggestion"])
g = json.load(open("model_cards/judging/2026-12-06-real-threats/gen_op3_cand.json"))
print("141 rows hit:", [r["v2"] for r in g if r["v2"] and V.search(r["call_out"]) and V.search(r["v2"])])
