"""J of the second human writer on every corpus-test pair that has one, scored against the first writer's call-in
(and the other way round), with the classifier and embedder `callinkit eval` uses.

    python model_cards/judging/2026-12-07-human-ceiling/all_pairs.py [BUNDLE]      # ~40 s
"""
import sys

from callinkit.serve import Rewriter
from callinkit.train.rewriter_eval import SECOND_REFERENCE, eval_embedder, pair_slices, score_outputs

rewriter = Rewriter.load(sys.argv[1] if len(sys.argv) > 1 else "bundles/rewriter_lm_op4n")
embedder = eval_embedder(rewriter, None)
rows = pair_slices()[SECOND_REFERENCE]
second = score_outputs([r["second_reference"] for r in rows], rows, rewriter.classifier, embedder)
first = score_outputs([r["call_in"] for r in rows], [dict(r, call_in=r["second_reference"]) for r in rows],
                      rewriter.classifier, embedder)
for name, m in (("second writer against the first", second), ("first writer against the second", first)):
    print(f"{len(rows)} test pairs, {name}: STA {m['sta']:.3f} SIM {m['sim']:.3f} chrF {m['chrf']:.1f} J {m['j']:.3f}")
