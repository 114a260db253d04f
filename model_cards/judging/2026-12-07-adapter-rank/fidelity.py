"""Greedy text of the fp32 model (transformers.generate on the run's merged checkpoint, the bundle's repetition
penalty, no copy boost) against two int4 bundles decoding the same prompts without the copy boost, on the first N
of the eval's 100 corpus-test call-outs: how far each bundle is from the model it was exported from.

    python model_cards/judging/2026-12-07-adapter-rank/fidelity.py RUN BUNDLE_A BUNDLE_B [N]    # ~3 min for 40
"""
import sys

import torch
from sacrebleu.metrics import CHRF
from transformers import AutoModelForCausalLM, AutoTokenizer

from callinkit.lm_prompt import IM_END, render_prompt
from callinkit.serve import Rewriter
from callinkit.train.rewriter_eval import pair_slices

torch.set_num_threads(2)
run, bundles = sys.argv[1], sys.argv[2:4]
n = int(sys.argv[4]) if len(sys.argv) > 4 else 40
rows = pair_slices(per_slice=100)["corpus_test"][:n]
tokenizer = AutoTokenizer.from_pretrained(f"{run}/best")
model = AutoModelForCausalLM.from_pretrained(f"{run}/best").eval()
eos = tokenizer.convert_tokens_to_ids(IM_END)
rewriters = {b: Rewriter.load(b) for b in bundles}
for rw in rewriters.values():
    rw.copy_boost = 0.0
first = rewriters[bundles[0]]
reference, outputs = [], {b: [] for b in bundles}
for r in rows:
    prompt = tokenizer(render_prompt(r["call_out"], r.get("context"), first.system), return_tensors="pt",
                       add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**prompt, max_new_tokens=int(first.generation["max_new_tokens"]), do_sample=False,
                             repetition_penalty=float(first.generation["repetition_penalty"]), eos_token_id=eos,
                             pad_token_id=0)
    reference.append(tokenizer.decode(out[0, prompt["input_ids"].shape[1]:], skip_special_tokens=True).strip())
    for b, rw in rewriters.items():
        outputs[b].append(rw.candidates(r["call_out"], 1, context=r.get("context"))[0].strip())
for b in bundles:
    same = sum(a == x for a, x in zip(reference, outputs[b]))
    print(f"{b}: greedy identical to fp32 on {same}/{n}, chrF {CHRF().corpus_score(outputs[b], [reference]).score:.1f}")
print(f"the two bundles identical on {sum(a == b for a, b in zip(*outputs.values()))}/{n}")
