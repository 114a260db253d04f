"""Which sources each bundle's guard refuses before generating (threat patterns or probe): the corpus-test call-outs (100) and threats (41) judged since session 6, and the 100 held-out ParaDetox comments of eval_op4.json.

    python model_cards/judging/2026-12-06-threat-ngrams/refusals.py BUNDLE [BUNDLE ...]
"""
import json
import sys

from callinkit import Rewriter

gen = json.load(open("model_cards/judging/2026-12-06-onpolicy-dpo4/gen_op4.json"))
ev = json.load(open("model_cards/judging/2026-12-06-onpolicy-dpo4/eval_op4.json"))
sets = {"corpus_test": [r["call_out"] for r in gen if r["slice"] == "corpus_test"],
        "threats": [r["call_out"] for r in gen if r["slice"] == "threats"],
        "paradetox_heldout": [r["source"] for r in ev["samples"]["paradetox_heldout"]]}
bundles = sys.argv[1:]
rws = {b: Rewriter.load(b) for b in bundles}
for name, texts in sets.items():
    ref = {b: [rws[b].refusal(t) is not None for t in texts] for b in bundles}
    print(name, {b: sum(v) for b, v in ref.items()}, "of", len(texts))
    for i, t in enumerate(texts):
        if len({ref[b][i] for b in bundles}) > 1:
            print("   ", [ref[b][i] for b in bundles], t[:140].replace("\n", " "))
