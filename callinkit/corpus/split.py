"""`callinkit data split`: the corpus's fixed train / validation / test assignment (maintainers only).

Records whose texts are near-duplicates (MiniLM cosine >= NEAR_DUPLICATE_COSINE) are grouped with a
union-find so that a group never straddles two splits. Whole topics listed in UNSEEN_TOPICS go to test
(the "unseen topic" slice). Other groups are assigned by a seeded hash of their first record id, so adding
records does not move existing ones unless they join a new group.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from callinkit.corpus import KINDS, data_dir, read_records
from callinkit.corpus.check import NEAR_DUPLICATE_COSINE, near_duplicate_pairs

# Topics held out entirely in test: one per topic family (identity language, gender and sexuality, race and
# religion, class and workplace, misinformation, platform conduct).
UNSEEN_TOPICS = ("ageism", "biphobia", "colorism", "name_mispronunciation", "misleading_statistics",
                 "uncredited_art_reposts")
FRACTIONS = {"validation": 0.10, "test": 0.10}
SEED = "callinkit-corpus-v1"


def _bucket(key: str) -> str:
    u = int.from_bytes(hashlib.blake2b(f"{SEED}:{key}".encode(), digest_size=8).digest(), "big") / 2**64
    if u < FRACTIONS["validation"]:
        return "validation"
    if u < FRACTIONS["validation"] + FRACTIONS["test"]:
        return "test"
    return "train"


def assign_splits(records, near: list[tuple[int, int, float]]) -> dict[str, str]:
    """{record id: split} with near-duplicate groups kept together and unseen topics in test."""
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b, _ in near:
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for i in range(len(records)):
        groups.setdefault(find(i), []).append(i)
    out = {}
    for members in groups.values():
        if any(records[i].data.get("topic") in UNSEEN_TOPICS for i in members):
            split = "test"
        else:
            split = _bucket(min(records[i].id for i in members))
        for i in members:
            out[records[i].id] = split
    return out


def write_splits(path: Path | None = None) -> dict[str, Any]:
    """Compute and write splits.json for the shipped corpus; returns what was written."""
    records = [rec for kind in KINDS for rec in read_records(kind)]
    near = near_duplicate_pairs(records, NEAR_DUPLICATE_COSINE)
    assignments = assign_splits(records, near)
    data = {
        "version": 1,
        "near_duplicate_cosine": NEAR_DUPLICATE_COSINE,
        "embedder": "sentence-transformers/all-MiniLM-L6-v2 (mean pooling, normalised)",
        "unseen_topics": list(UNSEEN_TOPICS),
        "fractions": FRACTIONS,
        "near_duplicate_groups": sum(1 for _ in near),
        "counts": dict(Counter(assignments.values())),
        "assignments": dict(sorted(assignments.items())),
    }
    target = path or Path(str(data_dir())) / "splits.json"
    target.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return data
