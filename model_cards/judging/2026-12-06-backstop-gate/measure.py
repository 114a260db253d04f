"""The recipe's threat probe (n-grams + embedding backstop at 0.7) on validation data, and a backstop that only
counts where the n-gram probe itself reaches GATE: corpus validation threats and other call-outs, the labelled
ParaDetox validation fold (both samples), and the 600 real comments labelled in session 18, which no probe was
fitted on (`../2026-12-06-real-concern/labels.jsonl`: Civil Comments and CrowdCounter, 21 threats).

    python model_cards/judging/2026-12-06-backstop-gate/measure.py BUNDLE [GATE ...]
"""
import json
import sys
from pathlib import Path

import numpy as np

from callinkit.corpus import load_corpus
from callinkit.guard import THREAT_RE
from callinkit.serve.embedder import SimilarityEmbedder, probe_probability
from callinkit.train.threat_probe import real_text_rows

sys.path.insert(0, str(Path(__file__).parents[1] / "2026-12-06-real-concern"))
from texts import labelled_rows  # noqa: E402

bundle = Path(sys.argv[1])
gates = [float(g) for g in sys.argv[2:]] or [0.0, 0.1, 0.2, 0.3]
probe = json.loads((bundle / "threat_probe.json").read_text())
emb = SimilarityEmbedder(bundle / "embedder")
rows = list(load_corpus("classification")["validation"])
sets = {
    "corpus threats": [r["text"] for r in rows if r.get("style") == "threat"],
    "corpus other call-outs": [r["text"] for r in rows if r["label"] == "call_out" and r.get("style") != "threat"],
    "ParaDetox validation threats": [r["text"] for r in real_text_rows("../shared/data/paradetox")
                                     if r["fold"] == "validation" and r["threat"]],
    "ParaDetox validation non-threats": [r["text"] for r in real_text_rows("../shared/data/paradetox")
                                         if r["fold"] == "validation" and not r["threat"]],
    "session-18 real threats": [r["text"] for r in labelled_rows() if r["threat"]],
    "session-18 real non-threats": [r["text"] for r in labelled_rows() if not r["threat"]],
}
alone = {k: v for k, v in probe.items() if k != "backstop"}
back = probe["backstop"]
for name, texts in sets.items():
    e = emb.encode(texts)
    p = probe_probability(alone, e, texts)
    pb = 1 / (1 + np.exp(-((e @ np.asarray(back["weights"], dtype=np.float32)).astype(np.float64) + back["bias"])))
    pat = np.array([bool(THREAT_RE.search(t)) for t in texts])
    out = [f"n-grams alone {np.sum((p >= probe['threshold']) | pat)}"]
    for g in gates:
        flagged = (p >= probe["threshold"]) | ((pb >= back["threshold"]) & (p >= g)) | pat
        out.append(f"gate {g:g}: {flagged.sum()}")
    print(f"{name} ({len(texts)}): " + ", ".join(out))
