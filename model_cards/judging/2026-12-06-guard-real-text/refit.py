"""A copy of a v2 bundle whose threat and no-concern probes are refitted with the labelled real texts.

    python model_cards/judging/2026-12-06-guard-real-text/refit.py BUNDLE OUT [THREAT_WEIGHT NO_CONCERN_WEIGHT
        [THREAT_SAMPLES [NGRAMS [BACKSTOP]]]]

THREAT_SAMPLES: the labelled samples the threat probe learns from, comma-separated (default "random", as
`export.threat_real_text_samples`; session 16's bundles/rewriter_lm_op3_rt2 used "random,violent_words").
NGRAMS, BACKSTOP: `export.threat_probe_ngrams` and `export.threat_probe_backstop` (default 0: the embedding
alone; session 17 used 2 and 0.8).

The model files are hard-linked, not copied; only the two probe files and the manifest's guard entries (and
their sha256) change, as an export with `export.guard_real_text` would write them (thresholds kept).
"""
import json
import os
import shutil
import sys
from pathlib import Path

from callinkit.bundle import file_sha256
from callinkit.train.threat_probe import (
    NO_CONCERN_PROBE_FILE,
    PROBE_FILE,
    no_concern_probe,
    real_text_rows,
    threat_probe,
    write_probe_file,
)

bundle, out = Path(sys.argv[1]), Path(sys.argv[2])
weights = [float(w) for w in sys.argv[3:5]] if len(sys.argv) > 4 else [10.0, 1.0]
samples = set(sys.argv[5].split(",")) if len(sys.argv) > 5 else {"random"}
ngrams = int(sys.argv[6]) if len(sys.argv) > 6 else 0
backstop = float(sys.argv[7]) if len(sys.argv) > 7 else None
paradetox = "../shared/data/paradetox"
if out.exists():
    sys.exit(f"{out} exists")
shutil.copytree(bundle, out, copy_function=os.link)
manifest = json.loads((bundle / "manifest.json").read_text())
guard = manifest["guard"]
real = real_text_rows(paradetox)
for name, fit, key, weight in ((PROBE_FILE, threat_probe, "threat_probe", weights[0]),
                               (NO_CONCERN_PROBE_FILE, no_concern_probe, "no_concern_probe", weights[1])):
    old = json.loads((bundle / name).read_text())
    part = [r for r in real if r["sample"] in samples] if fit is threat_probe else real
    extra = {"ngrams": ngrams, "backstop": backstop} if fit is threat_probe else {}
    probe = fit(out / "embedder", threshold=old["threshold"], real=part, real_weight=weight, **extra)
    (out / name).unlink()  # a hard link to the original: replace, do not write through it
    write_probe_file(out, name, probe)
    guard[f"{key}_validation"] = probe["validation"]
    manifest["files"][name] = file_sha256(out / name)
    print(key, json.dumps(probe["validation"]))
guard["guard_real_text"] = {"labels": "train/guard_labels/paradetox.jsonl", "threat_samples": sorted(samples),
                            "weights": weights, **({"threat_ngrams": ngrams, "threat_backstop": backstop} if ngrams else {})}
(out / "manifest.json").unlink()
(out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
print("wrote", out)
