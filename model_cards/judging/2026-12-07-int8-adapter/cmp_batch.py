"""op4e's shown suggestion, decoded with whatever callinkit is on PYTHONPATH, for the corpus-test call-outs that op4e
or session 19's op4n answers: run once with a git worktree of 83054de~1 (the classifier scores the candidates in one
batch) and once with 83054de (each alone), then compare the two JSON files.

    git worktree add /tmp/old 83054de~1 && (cd /tmp/old && ln -s ../serve callinkit/serve && ln -s ../train callinkit/train)
    cd /tmp/old && PYTHONPATH=/tmp/old python /path/to/cmp_batch.py /path/to/repo OUT.json
"""
import json
import sys
from pathlib import Path

from callinkit.serve import Rewriter

repo = Path(sys.argv[1])
here = repo / "model_cards" / "judging"
rows = [r for r in json.load(open(here / "2026-12-07-int8-adapter" / "gen141_op4e.json")) if r["slice"] == "corpus_test"]
op4n = {r["id"]: r for r in json.load(open(here / "2026-12-06-release1-floor" / "gen141_op4n_r1floor.json"))}
rows = [r for r in rows if r["v2"] or op4n[r["id"]]["v2"]]
rw = Rewriter.load(repo / "bundles" / "rewriter_lm_op4e")
shown = {}
for r in rows:
    result = rw.generate_and_select(r["call_out"], 4, context=r.get("context"))[1]
    shown[r["id"]] = result.text if result.ok else None
Path(sys.argv[2]).write_text(json.dumps(shown, indent=1) + "\n")
print(len(rows), "call-outs,", sum(v is not None for v in shown.values()), "answered")
