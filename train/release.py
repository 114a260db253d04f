"""Make a classifier and a rewriter bundle the models shipped inside the package (`callinkit release`).

The shipped layout, found by `Classifier.load()` / `Rewriter.load()` with no argument:

    callinkit/models/classifier/      the classifier bundle + MODEL_CARD.md + eval.json
    callinkit/models/rewriter/        the rewriter bundle + MODEL_CARD.md + eval.json; its embedder/ is inside,
                                      and it reranks with ../classifier (one copy of the classifier, not two)

A release replaces the shipped models only when it measures better on the corpus test split (classifier
macro-F1, rewriter J of the reranked model), unless forced. Each folder is written atomically.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from callinkit.bundle import MANIFEST, atomic_directory, read_manifest, write_json
from callinkit.errors import CallinkitError

CLASSIFIER_SLICE = "callin_corpus:test"
REWRITER_SLICE, REWRITER_SYSTEM = "corpus_test", "model_reranked"


def shipped_dir() -> Path:
    import callinkit

    return Path(callinkit.__file__).resolve().parent / "models"


def classifier_score(evaluation: dict[str, Any]) -> tuple[float, int, str | None]:
    """(macro-F1, n, fingerprint of the reference labels or None in older files) on the corpus test split
    from a `callinkit eval CLASSIFIER callin_corpus --out` file."""
    try:
        m = evaluation["results"][CLASSIFIER_SLICE]
        return float(m["macro_f1"]), int(m["n"]), m.get("references_sha256")
    except (KeyError, TypeError):
        raise CallinkitError(f"classifier eval has no {CLASSIFIER_SLICE} results; make it with `callinkit eval "
                             "BUNDLE callin_corpus --out FILE`") from None


def rewriter_score(evaluation: dict[str, Any], system: str = REWRITER_SYSTEM) -> tuple[float, int, None]:
    """(J of the reranked model, n) on the corpus test split from a rewriter `callinkit eval --out` file.
    `system` picks another row of the same table, e.g. `rewriter_reranked` for the bundle given to --compare."""
    try:
        m = evaluation["table"][REWRITER_SLICE][system]
        return float(m["j"]), int(m["n"]), None
    except (KeyError, TypeError):
        raise CallinkitError(f"rewriter eval has no {REWRITER_SLICE}/{system} row; make it with "
                             "`callinkit eval BUNDLE callin_corpus --out FILE` (with --compare for another "
                             "bundle's rows)") from None


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise CallinkitError(f"{what} not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CallinkitError(f"{what} {path} is not valid JSON ({exc})") from None


def _compare(kind: str, new: tuple[float, int, str | None], shipped_eval: Path, score, force: bool,
             baseline_eval: Path | None = None) -> str:
    """A line saying how the new model compares; raises when it is not better and not forced.
    `baseline_eval` is an eval of the shipped model on today's split (when the split grew or was relabelled
    since it shipped). Scores compare when n and the reference labels' fingerprint agree; an older eval
    without a fingerprint does not compare with a newer one that has it."""
    if baseline_eval is not None:
        shipped_eval = baseline_eval
    if not shipped_eval.is_file():
        return f"{kind}: no shipped model to compare with; new score {new[0]:.4f} (n={new[1]})"
    old = score(json.loads(shipped_eval.read_text(encoding="utf-8")))
    line = f"{kind}: shipped {old[0]:.4f} (n={old[1]}) -> new {new[0]:.4f} (n={new[1]})"
    if force:
        return line + " (forced)"
    if old[1:] != new[1:]:
        raise CallinkitError(f"{line}: the test split or its labels changed, so the scores do not compare; evaluate the shipped "
                             f"model on the same split and pass it as --baseline-{kind}-eval, or pass --force")
    if new[0] <= old[0]:
        raise CallinkitError(f"{line}: the new model does not measure better; keeping the shipped one "
                             "(--force to replace it anyway)")
    return line


def _share_rewriter_weights(src: Path, tmp: Path) -> int:
    """Store the rewriter's tied embeddings once (bundles exported before export did this); checks that
    greedy rewrites are unchanged. Returns the bytes saved."""
    from callinkit.serve import Rewriter
    from callinkit.train.rewriter_export import CHECK_SOURCES, DECODER_FILE, ENCODER_FILE, share_initializers

    saved = share_initializers([tmp / ENCODER_FILE, tmp / DECODER_FILE])
    if saved:
        before = [r.text for r in Rewriter(src).rewrite(CHECK_SOURCES, num_candidates=1)]
        after = [r.text for r in Rewriter(tmp).rewrite(CHECK_SOURCES, num_candidates=1)]
        if before != after:
            raise CallinkitError("the rewriter with shared weights rewrites differently; this is a bug")
    return saved


def _copy_bundle(src: Path, dst: Path, card: Path, evaluation: dict[str, Any], skip: tuple[str, ...] = (),
                 manifest_update: dict[str, Any] | None = None) -> None:
    with atomic_directory(dst, overwrite=True) as tmp:
        for item in sorted(src.iterdir()):
            if item.name in skip:
                continue
            if item.is_dir():
                shutil.copytree(item, tmp / item.name)
            else:
                shutil.copy2(item, tmp / item.name)
        src_manifest = json.loads((tmp / MANIFEST).read_text()) if (tmp / MANIFEST).is_file() else {}
        if src_manifest.get("kind") == "rewriter" and src_manifest.get("architecture") != "decoder_lm":
            saved = _share_rewriter_weights(src, tmp)
            if saved:
                manifest_update = dict(manifest_update or {}, shared_weight_bytes=saved)
        shutil.copy2(card, tmp / "MODEL_CARD.md")
        write_json(tmp / "eval.json", shipped_eval(evaluation))
        _rewrite_manifest(tmp, manifest_update)


def shipped_eval(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The eval.json a released bundle carries: no rewriter samples, and no text of a public proxy corpus (the
    classifier's confident errors on those slices keep their labels, with a reference for the text; see
    `callinkit.corpus.redact`): the corpora are loaded by path and never copied into the repository or a wheel."""
    from callinkit.corpus.redact import redact_examples

    out = {k: v for k, v in evaluation.items() if k != "samples"}
    if isinstance(out.get("confident_errors"), dict):
        out["confident_errors"] = redact_examples(out["confident_errors"])
    return out


KEEP = "keep"
"""Pass as the classifier (with no classifier eval) to release a new rewriter beside the shipped classifier, or
as the rewriter to release only a classifier (the shipped rewriter then reranks with the new one; give its
re-measured eval as --rewriter-eval to update its eval.json)."""
MAX_WHEEL_FILE_BYTES = 100 * 1024 * 1024  # PyPI (warehouse) default limit for one file: 100 MiB


def pack_release(classifier: str | Path, rewriter: str | Path, classifier_eval: Path | None,
                 rewriter_eval: Path | None, cards: Path = Path("model_cards"), out: Path | None = None,
                 force: bool = False, baseline_classifier_eval: Path | None = None,
                 baseline_rewriter_eval: Path | None = None, baseline_rewriter_system: str = REWRITER_SYSTEM
                 ) -> list[str]:
    """Copy the bundles into `out` (default: the package's models/); returns the comparison lines.

    `classifier` may be "keep": the shipped classifier stays, and only the rewriter is released; `rewriter` may
    be "keep": only the classifier is released."""
    keep_classifier, keep_rewriter = str(classifier) == KEEP, str(rewriter) == KEEP
    if keep_classifier and keep_rewriter:
        raise CallinkitError("nothing to release: both the classifier and the rewriter are 'keep'")
    out = out or shipped_dir()
    classifier, rewriter = Path(classifier), Path(rewriter)
    if not keep_classifier:
        read_manifest(classifier, kind="classifier")
    if keep_rewriter:
        if not (out / "rewriter" / MANIFEST).is_file():
            raise CallinkitError(f"rewriter 'keep': there is no shipped rewriter in {out} to keep")
        return _release_classifier_only(classifier, classifier_eval, rewriter_eval, cards, out, force,
                                        baseline_classifier_eval)
    if rewriter_eval is None:
        raise CallinkitError("--rewriter-eval is needed to release a rewriter")
    r_manifest = read_manifest(rewriter, kind="rewriter")
    decoder_lm = r_manifest.get("architecture") == "decoder_lm"
    if not decoder_lm and not (rewriter / "embedder" / MANIFEST).is_file():
        raise CallinkitError(f"{rewriter} has no embedder/; export the rewriter without --no-embedder")
    for name in ("classifier.md", "rewriter.md"):
        if not (cards / name).is_file():
            raise CallinkitError(f"model card {cards / name} not found (pass --cards FOLDER)")
    r_eval = _read_json(rewriter_eval, "rewriter eval")
    lines = []
    if not keep_classifier:
        if classifier_eval is None:
            raise CallinkitError("--classifier-eval is needed to release a classifier")
        c_eval = _read_json(classifier_eval, "classifier eval")
        lines.append(_compare("classifier", classifier_score(c_eval), out / "classifier" / "eval.json",
                              classifier_score, force, baseline_classifier_eval))
    elif not (out / "classifier" / MANIFEST).is_file():
        raise CallinkitError(f"classifier 'keep': there is no shipped classifier in {out} to keep")
    lines.append(_compare("rewriter", rewriter_score(r_eval), out / "rewriter" / "eval.json",
                          lambda e: rewriter_score(e, baseline_rewriter_system if baseline_rewriter_eval else
                                                   REWRITER_SYSTEM), force, baseline_rewriter_eval))
    reranking = dict(r_manifest.get("reranking") or {}, classifier="../classifier/")
    if not keep_classifier:
        _copy_bundle(classifier, out / "classifier", cards / "classifier.md", c_eval)
    _copy_bundle(rewriter, out / "rewriter", cards / "rewriter.md", r_eval, skip=("classifier",),
                 manifest_update={"reranking": reranking})
    return _report(lines, out)


def _release_classifier_only(classifier: Path, classifier_eval: Path | None, rewriter_eval: Path | None,
                             cards: Path, out: Path, force: bool, baseline: Path | None) -> list[str]:
    if classifier_eval is None:
        raise CallinkitError("--classifier-eval is needed to release a classifier")
    if not (cards / "classifier.md").is_file():
        raise CallinkitError(f"model card {cards / 'classifier.md'} not found (pass --cards FOLDER)")
    c_eval = _read_json(classifier_eval, "classifier eval")
    lines = [_compare("classifier", classifier_score(c_eval), out / "classifier" / "eval.json", classifier_score,
                      force, baseline)]
    _copy_bundle(classifier, out / "classifier", cards / "classifier.md", c_eval)
    if rewriter_eval is not None:  # the kept rewriter, re-measured with the new classifier as its guard
        r_eval = _read_json(rewriter_eval, "rewriter eval")
        rewriter_score(r_eval)  # it must be a rewriter eval
        write_json(out / "rewriter" / "eval.json", shipped_eval(r_eval))
        _rewrite_manifest(out / "rewriter")
        lines.append(f"rewriter: kept; eval.json replaced by {rewriter_eval} (measured with the new classifier)")
    else:
        lines.append("rewriter: kept (its eval.json was measured with the previous classifier)")
    return _report(lines, out)


def _rewrite_manifest(bundle: Path, update: dict[str, Any] | None = None) -> None:
    """Apply `update` to a bundle's manifest and record the sha256 of every file now in the folder."""
    from callinkit.train.export import sha256

    manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    manifest.update(update or {})
    manifest["files"] = {p.name: sha256(p) for p in sorted(bundle.iterdir()) if p.is_file() and p.name != MANIFEST}
    write_json(bundle / MANIFEST, manifest)


def _report(lines: list[str], out: Path) -> list[str]:
    for line in lines:
        print(line)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"shipped models in {out}: {size / 1e6:.1f} MB")
    if size > MAX_WHEEL_FILE_BYTES:
        print(f"warning: the models total {size / 1e6:.1f} MB; a wheel that holds them may pass PyPI's 100 MB limit")
    return lines
