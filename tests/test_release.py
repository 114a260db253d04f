"""`callinkit release`: shipping a classifier + rewriter pair inside the package, and only when it measures better."""

import json
from pathlib import Path

import pytest

from callinkit.cli import main
from callinkit.errors import CallinkitError


def write_evals(folder: Path, macro_f1: float, j: float, n: int = 100, labels: str | None = "v1") -> tuple[Path, Path]:
    """`labels`: the fingerprint of the test split's reference labels (None: an eval from before it was kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    clf, rw = folder / "classifier_eval.json", folder / "rewriter_eval.json"
    result = {"macro_f1": macro_f1, "n": n, **({"references_sha256": labels} if labels else {})}
    clf.write_text(json.dumps({"results": {"callin_corpus:test": result}}))
    rw.write_text(json.dumps({"table": {"corpus_test": {"model_reranked": {"j": j, "n": n}}},
                              "samples": {"corpus_test": [{"source": "a"}]}}))
    return clf, rw


@pytest.fixture()
def cards(tmp_path) -> Path:
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "classifier.md").write_text("# classifier card\n")
    (folder / "rewriter.md").write_text("# rewriter card\n")
    return folder


def test_release_ships_one_classifier_that_the_rewriter_reranks_with(tiny_bundle, tiny_rewriter_bundle_with_embedder, cards,
                                                                    tmp_path):
    from callinkit.serve import Rewriter
    from callinkit.train.release import pack_release

    out = tmp_path / "models"
    clf_eval, rw_eval = write_evals(tmp_path / "evals", 0.8, 0.3)
    pack_release(tiny_bundle, tiny_rewriter_bundle_with_embedder, clf_eval, rw_eval, cards=cards, out=out)

    assert (out / "classifier" / "model.onnx").is_file()
    assert not (out / "rewriter" / "classifier").exists()  # no second copy of the classifier
    manifest = json.loads((out / "rewriter" / "manifest.json").read_text())
    assert manifest["reranking"]["classifier"] == "../classifier/"
    assert "MODEL_CARD.md" in manifest["files"] and "eval.json" in manifest["files"]
    assert (out / "rewriter" / "MODEL_CARD.md").read_text() == "# rewriter card\n"
    assert "samples" not in json.loads((out / "rewriter" / "eval.json").read_text())

    rewriter = Rewriter.load(out / "rewriter")
    assert rewriter.classifier is not None and rewriter.embedder is not None
    assert rewriter.classifier.bundle_dir.resolve() == (out / "classifier").resolve()
    best = rewriter.rewrite(["@sam you clown, that stat is wrong"], num_candidates=2)[0]
    assert all({"call_in", "similarity", "score"} <= set(c.scores) for c in best.candidates)
    assert len(best.candidates) == 2


def test_release_replaces_shipped_models_only_when_they_measure_better(tiny_bundle, tiny_rewriter_bundle_with_embedder, cards,
                                                                      tmp_path):
    from callinkit.train.release import pack_release

    out = tmp_path / "models"
    pack_release(tiny_bundle, tiny_rewriter_bundle_with_embedder, *write_evals(tmp_path / "v1", 0.8, 0.3), cards=cards, out=out)
    before = (out / "classifier" / "eval.json").read_text()

    with pytest.raises(CallinkitError, match="does not measure better"):
        pack_release(tiny_bundle, tiny_rewriter_bundle_with_embedder, *write_evals(tmp_path / "v2", 0.79, 0.4), cards=cards,
                     out=out)
    with pytest.raises(CallinkitError, match="test split or its labels changed"):
        pack_release(tiny_bundle, tiny_rewriter_bundle_with_embedder, *write_evals(tmp_path / "v3", 0.9, 0.4, n=120),
                     cards=cards, out=out)
    # relabelled texts keep n; the labels' fingerprint tells (and an eval without one compares with none)
    for relabelled in ("v2", None):
        with pytest.raises(CallinkitError, match="test split or its labels changed"):
            pack_release(tiny_bundle, tiny_rewriter_bundle_with_embedder,
                         *write_evals(tmp_path / "v3b", 0.9, 0.4, labels=relabelled), cards=cards, out=out)
    assert (out / "classifier" / "eval.json").read_text() == before  # nothing replaced

    lines = pack_release(tiny_bundle, tiny_rewriter_bundle_with_embedder, *write_evals(tmp_path / "v4", 0.85, 0.35), cards=cards,
                         out=out)
    assert lines == ["classifier: shipped 0.8000 (n=100) -> new 0.8500 (n=100)",
                     "rewriter: shipped 0.3000 (n=100) -> new 0.3500 (n=100)"]
    pack_release(tiny_bundle, tiny_rewriter_bundle_with_embedder, *write_evals(tmp_path / "v5", 0.1, 0.1), cards=cards, out=out,
                 force=True)
    assert json.loads((out / "classifier" / "eval.json").read_text())["results"]["callin_corpus:test"]["macro_f1"] == 0.1


def test_release_of_a_classifier_alone_keeps_the_rewriter_and_compares_on_todays_split(
        tiny_bundle, tiny_rewriter_bundle_with_embedder, cards, tmp_path):
    from callinkit.serve import Rewriter
    from callinkit.train.release import pack_release

    out = tmp_path / "models"
    pack_release(tiny_bundle, tiny_rewriter_bundle_with_embedder, *write_evals(tmp_path / "v1", 0.8, 0.3, n=100),
                 cards=cards, out=out)
    # The test split grew (n 120): the shipped eval (n 100) does not compare ...
    new_clf, new_rw = write_evals(tmp_path / "v2", 0.85, 0.2, n=120)
    with pytest.raises(CallinkitError, match="--baseline-classifier-eval"):
        pack_release(tiny_bundle, "keep", new_clf, None, cards=cards, out=out)
    # ... an eval of the shipped model on today's split does; a worse new model is still refused.
    baseline, _ = write_evals(tmp_path / "base", 0.9, 0.2, n=120)
    with pytest.raises(CallinkitError, match="does not measure better"):
        pack_release(tiny_bundle, "keep", new_clf, None, cards=cards, out=out, baseline_classifier_eval=baseline)
    baseline, _ = write_evals(tmp_path / "base2", 0.7, 0.2, n=120)
    lines = pack_release(tiny_bundle, "keep", new_clf, new_rw, cards=cards, out=out, baseline_classifier_eval=baseline)
    assert "shipped 0.7000 (n=120) -> new 0.8500 (n=120)" in lines[0] and "rewriter: kept" in lines[1]
    assert json.loads((out / "classifier" / "eval.json").read_text())["results"]["callin_corpus:test"]["n"] == 120
    assert json.loads((out / "rewriter" / "eval.json").read_text())["table"]["corpus_test"]["model_reranked"]["j"] == 0.2
    Rewriter.load(out / "rewriter")  # its manifest's checksums still match
    with pytest.raises(CallinkitError, match="nothing to release"):
        pack_release("keep", "keep", None, None, cards=cards, out=out)


def test_release_errors_say_what_is_missing(tiny_bundle, tiny_rewriter_bundle, tiny_rewriter_bundle_with_embedder, cards,
                                            tmp_path, capsys):
    clf_eval, rw_eval = write_evals(tmp_path, 0.8, 0.3)
    base = ["release", str(tiny_bundle), str(tiny_rewriter_bundle_with_embedder), "--classifier-eval", str(clf_eval),
            "--rewriter-eval", str(rw_eval), "--out", str(tmp_path / "models")]
    assert main(base + ["--cards", str(tmp_path / "nowhere")]) == 2
    assert "model card" in capsys.readouterr().err
    assert main(["release", str(tiny_bundle), str(tiny_rewriter_bundle), "--classifier-eval", str(clf_eval),
                 "--rewriter-eval", str(rw_eval), "--cards", str(cards), "--out", str(tmp_path / "m")]) == 2
    assert "has no embedder/" in capsys.readouterr().err
    assert main(base[:6] + [str(tmp_path / "missing.json")] + base[7:] + ["--cards", str(cards)]) == 2
    assert "rewriter eval not found" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()


def test_rewrite_and_suggest_commands(tiny_bundle, tiny_rewriter_bundle, capsys):
    assert main(["rewrite", "--bundle", str(tiny_rewriter_bundle), "--num-candidates", "1",
                 "@sam you clown, that stat is wrong"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("@sam you clown, that stat is wrong\n  -> ")
    assert main(["rewrite", "--bundle", str(tiny_rewriter_bundle), "--json", "--num-candidates", "2", "you clown"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["text"] == "you clown" and len(row["candidates"]) == 2
    assert main(["suggest", "--classifier-bundle", str(tiny_bundle), "--rewriter-bundle", str(tiny_rewriter_bundle),
                 "--json", "the bus is late"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["text"] == "the bus is late" and row["label"] in {"call_out", "call_in", "neutral"}
    assert (row["rewrite"] is None) == (row["label"] != "call_out")
