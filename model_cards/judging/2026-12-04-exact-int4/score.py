import json, sys, collections
for other in ("r1", "ref", "unused"):
    try:
        key = {json.loads(l)["id"]: json.loads(l) for l in open(f"model_cards/judging/2026-12-04-exact-int4/key_{other}.jsonl")}
        verdicts = [json.loads(l) for l in open(f"model_cards/judging/2026-12-04-exact-int4/verdicts_{other}.jsonl")]
    except FileNotFoundError:
        continue
    by = collections.defaultdict(collections.Counter); quality = collections.Counter(); reasons = collections.Counter()
    for v in verdicts:
        k = key[v["id"]]
        w = v["better"]
        res = "tie" if w == "tie" else ("v2" if k[w] == "v2" else "other")
        by[k["slice"]][res] += 1; by["all"][res] += 1
        side = "A" if k["A"] == "v2" else "B"
        quality[v.get(f"rating_{side}", "?")] += 1
        for r in v.get(f"problems_{side}", []) or []: reasons[r] += 1
    print(f"== v2 vs {other}: {len(verdicts)} judged")
    for s, c in by.items():
        n = sum(c.values()); print(f"  {s:<12} v2 better {c['v2']}, {other} better {c['other']}, tie {c['tie']}; v2 not worse {(c['v2'] + c['tie']) / n:.0%} (n={n})")
    print("  v2 ratings:", dict(quality)); print("  v2 problems:", reasons.most_common(10))
