"""The MiniLM->BART rewriter: exact encoder copy, weight mapping, staged training, ONNX parity, torch-free API."""

import json

import numpy as np
import pytest
import torch

from callinkit.serve import Rewrite, Rewriter


@pytest.fixture(scope="module")
def minilm_and_bart():
    from callinkit.train.base_model import packaged_minilm_dir
    from callinkit.train.rewriter_model import build_rewriter, load_minilm

    path = packaged_minilm_dir()
    bart, tokenizer = build_rewriter(path, list(range(6)), [4, 5])
    bert, _ = load_minilm(path)
    return bert.eval(), bart.eval(), tokenizer


def test_bart_encoder_equals_minilm(minilm_and_bart):
    bert, bart, tokenizer = minilm_and_bart
    enc = tokenizer(["Hello @maria, that word hurts!", "short", "a " * 60], padding=True, return_tensors="pt",
                    return_token_type_ids=False)
    with torch.no_grad():
        ours = bart.model.encoder(**enc).last_hidden_state
        theirs = bert(**enc).last_hidden_state
    mask = enc["attention_mask"].bool()
    assert (ours - theirs)[mask].abs().max().item() < 1e-4


def test_decoder_and_cross_attention_start_from_the_chosen_minilm_layers(minilm_and_bart):
    bert, bart, _ = minilm_and_bart
    for i, src in enumerate([4, 5]):
        layer, dec = bert.encoder.layer[src], bart.model.decoder.layers[i]
        q = layer.attention.self.query.weight
        assert torch.equal(dec.self_attn.q_proj.weight, q) and torch.equal(dec.encoder_attn.q_proj.weight, q)
        assert torch.equal(dec.encoder_attn.out_proj.weight, layer.attention.output.dense.weight)
        assert torch.equal(dec.encoder_attn_layer_norm.weight, layer.attention.output.LayerNorm.weight)
        assert torch.equal(dec.fc1.weight, layer.intermediate.dense.weight)
    emb = bert.embeddings
    table = bart.model.decoder.embed_positions.weight
    assert torch.allclose(table[2:], emb.position_embeddings.weight + emb.token_type_embeddings.weight[0])
    assert bart.lm_head.weight.data_ptr() == bart.model.shared.weight.data_ptr()


def test_labels_drop_the_leading_cls_and_share_placeholders(minilm_and_bart):
    from callinkit.train.rewriter import encode_pair

    _, _, tokenizer = minilm_and_bart
    out = encode_pair(tokenizer, "@dan stop it 🙄", "@dan please stop 🙄", 32, 32)
    assert out["input_ids"][0] == tokenizer.cls_token_id and out["labels"][0] != tokenizer.cls_token_id
    assert out["labels"][-1] == tokenizer.sep_token_id
    tokens = tokenizer.convert_ids_to_tokens(out["labels"])
    assert tokens[0] == "[unused0]" and "[unused1]" in tokens


def test_staged_run_folder(tiny_rewriter_run):
    info = json.loads((tiny_rewriter_run / "run_info.json").read_text())
    assert [s["stage"] for s in info["stages"]] == ["copy", "callin"]
    for s in info["stages"]:
        assert s["steps"] == 30 and s["seconds"] > 0
    for stage in ("0-copy", "1-callin"):
        folder = tiny_rewriter_run / "stages" / stage
        assert (folder / "final" / "model.safetensors").is_file()
        assert (folder / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
        history = json.loads((folder / "log_history.json").read_text())
        losses = [h["loss"] for h in history if "loss" in h]
        assert losses[-1] < losses[0]
    assert (tiny_rewriter_run / "best" / "config.json").is_file()


def test_export_is_checked_against_pytorch(tiny_rewriter_bundle):
    manifest = json.loads((tiny_rewriter_bundle / "manifest.json").read_text())
    v = manifest["validation"]
    assert v["greedy_identical_to_pytorch"] == v["check_examples"] >= 8
    assert v["teacher_forced_max_abs_logit_diff"] <= v["atol"]
    assert manifest["files_layout"] == {"encoder": "encoder_model.onnx", "decoder": "decoder_model_merged.onnx"}
    assert (tiny_rewriter_bundle / "classifier" / "manifest.json").is_file()
    # The tied word embeddings are stored once for both graphs (30522 x 32 float32 in the tiny model).
    assert v["shared_weight_bytes"] == 30522 * 32 * 4
    assert (tiny_rewriter_bundle / "shared_weights.bin").stat().st_size >= v["shared_weight_bytes"]
    assert (tiny_rewriter_bundle / "encoder_model.onnx").stat().st_size < v["shared_weight_bytes"]


def test_onnx_greedy_equals_transformers_generate(tiny_rewriter_run, tiny_rewriter_bundle):
    from conftest import FIXTURES

    from callinkit.serve.generation import DecodeSettings
    from callinkit.train.rewriter_bundle import _encode, torch_greedy_ids
    from callinkit.train.rewriter_model import load_rewriter_checkpoint

    sources = [json.loads(line)["call_out"] for line in (FIXTURES / "pairs_tiny.jsonl").read_text().splitlines()]
    model, tokenizer = load_rewriter_checkpoint(tiny_rewriter_run / "best")
    rewriter = Rewriter.load(tiny_rewriter_bundle)
    settings = rewriter.settings(1, 12, 1)
    assert settings == DecodeSettings(max_new_tokens=12, num_beams=1, num_return=1, repetition_penalty=1.2,
                                      no_repeat_ngram_size=3)
    ids, mask = _encode(tokenizer, sources, 32)
    want = torch_greedy_ids(model.eval(), ids, mask, settings)
    got = [h.token_ids for row in rewriter.generate(sources, settings) for _, h in row]
    assert got == want


def test_rewrite_api_candidates_and_reranking(tiny_rewriter_bundle):
    rewriter = Rewriter.load(tiny_rewriter_bundle)
    assert rewriter.rewrite([]) == []
    out = rewriter.rewrite(["you absolute clown, delete this", "@dan_r stop posting fake stats"], num_candidates=3)
    assert len(out) == 2 and all(isinstance(r, Rewrite) for r in out)
    for r in out:
        assert 1 <= len(r.candidates) <= 3
        # Candidates that pass the guard come first, each group best first; the result is the first one, or
        # None with the reason when none passed (the tiny random model often writes nonsense).
        keys = [(c.ok, c.scores["score"]) for c in r.candidates]
        assert keys == sorted(keys, reverse=True)
        assert (r.ok, r.text) == ((True, r.candidates[0].text) if r.candidates[0].ok else (False, None))
        assert r.ok or r.reason.startswith("no candidate passed the guard")
        assert 0.0 <= r.candidates[0].scores["call_in"] <= 1.0  # the classifier bundle inside the rewriter bundle
    one = rewriter.rewrite_one("nobody asked you", max_new_tokens=3, num_candidates=1)
    assert len(one.candidates) == 1
    with pytest.raises(TypeError, match="rewrite_one"):
        rewriter.rewrite("a single string")
    with pytest.raises(ValueError, match="num_candidates"):
        rewriter.rewrite(["x"], num_candidates=0)


def test_beam_search_returns_distinct_ranked_hypotheses(tiny_rewriter_bundle):
    from callinkit.serve.generation import DecodeSettings, beam_search

    rewriter = Rewriter.load(tiny_rewriter_bundle)
    enc = rewriter.tokenizer.encode_batch(["you clown", "stop posting this"])
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    rows = beam_search(rewriter.graphs, ids, mask, DecodeSettings(max_new_tokens=6, num_beams=4, num_return=4))
    for hyps in rows:
        assert len(hyps) == 4
        assert len({tuple(h.token_ids) for h in hyps}) == 4
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        assert all(len(h.token_ids) <= 6 for h in hyps)


def test_logits_processors_match_transformers():
    from transformers.generation.logits_process import (
        NoRepeatNGramLogitsProcessor,
        RepetitionPenaltyLogitsProcessor,
    )

    from callinkit.serve.generation import DecodeSettings, process

    rng = np.random.default_rng(0)
    scores = rng.normal(size=(2, 50)).astype(np.float32)
    histories = [[1, 5, 7, 5, 7], [1, 9, 9, 3, 4]]
    ours = process(scores, histories, DecodeSettings(repetition_penalty=1.3, no_repeat_ngram_size=2))
    ids = torch.tensor(histories)
    theirs = NoRepeatNGramLogitsProcessor(2)(ids, RepetitionPenaltyLogitsProcessor(1.3)(ids, torch.tensor(scores)))
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-6)


def test_rewriter_is_torch_free(tiny_rewriter_bundle):
    from test_torch_free import run

    proc = run(f"""
        from callinkit import Rewriter
        out = Rewriter.load({str(tiny_rewriter_bundle)!r}).rewrite(["you clown"], num_candidates=2)
        print(len(out), len(out[0].candidates) >= 1)
    """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1 True"


@pytest.mark.slow
def test_copy_task_learns_fast_with_cross_attention_copied(tmp_path):
    """Regression guard for the warm start: a few hundred steps of a small copy task reach a low loss."""
    from callinkit.config import config_from_dict
    from callinkit.train.rewriter import train

    sentences = [f"the {a} {b} is on the {c} today" for a in ("red", "blue", "old", "new", "big", "small")
                 for b in ("car", "dog", "book", "lamp") for c in ("table", "roof", "street", "desk")]
    data = tmp_path / "copy.jsonl"
    data.write_text("".join(json.dumps({"call_out": s, "call_in": s}) + "\n" for s in sentences))
    stage = {"name": "copy", "sources": [{"name": "jsonl", "path": str(data)}], "max_steps": 200,
             "batch_size": 16, "learning_rate": 3e-4, "eval_steps": 100, "save_steps": 200, "logging_steps": 20}
    config = config_from_dict({"task": "rewriter", "run_dir": str(tmp_path / "run"), "stages": [stage],
                               "model": {"encoder_layers": [0, 1, 2], "decoder_layers": [0, 1]}})
    info = train(config)
    assert info["stages"][0]["final_train_loss"] < 1.0, info


def test_suggest_rewrites_only_call_outs(tiny_bundle, tiny_rewriter_bundle, tmp_path):
    from test_server_support import relabelled_bundle

    from callinkit import Classifier, suggest

    # The untrained tiny classifier never says call_out; the same model with its label order permuted does.
    classifier = Classifier.load(relabelled_bundle(tiny_bundle, tmp_path / "relabelled"))
    rewriter = Rewriter.load(tiny_rewriter_bundle)
    texts = ["you absolute clown", "the bus is late", "could you credit the artist?", "nobody asked you"]
    labels = {classifier.predict_one(t).label for t in texts}
    assert "call_out" in labels and len(labels) > 1  # both branches are exercised
    for text in texts:
        s = suggest(text, classifier=classifier, rewriter=rewriter, num_candidates=2)
        assert s.label == classifier.predict_one(text).label and s.scores == classifier.predict_one(text).scores
        assert (s.rewrite is not None) == (s.label == "call_out")
        assert s.to_dict()["rewrite"] == (s.rewrite.to_dict() if s.rewrite else None)
    with pytest.raises(TypeError):
        suggest(["a list"], classifier=classifier, rewriter=rewriter)


def test_eval_scores_model_and_baselines_on_a_pairs_file(tiny_rewriter_bundle_with_embedder, tmp_path, capsys):
    from callinkit.cli import main

    pairs = tmp_path / "mine.jsonl"
    rows = [{"call_out": "@sam you clown, that stat is wrong", "call_in": "@sam that stat looks wrong, source?"},
            {"call_out": "nobody asked you, log off", "call_in": "I'd rather we kept this kind."},
            {"call_out": "WOW so brave. #cancelled", "call_in": "That post hurt people; could we talk?"}]
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "eval.json"
    assert main(["eval", str(tiny_rewriter_bundle_with_embedder), str(pairs), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    table = result["table"]["mine"]
    assert set(table) == {"copy", "delete_insults", "template", "model_greedy", "model_reranked", "model_unguarded"}
    for m in table.values():
        assert m["n"] == 3 and 0 <= m["sta"] <= 1 and -1 <= m["sim"] <= 1 and 0 <= m["chrf"] <= 100
        assert 0 <= m["j"] <= 1 and 0 <= m["j_target"] <= 1 and 0 <= m["answered"] <= 1
    # Abstentions score zero: the guarded row can only answer less often than the unguarded one.
    assert table["model_reranked"]["answered"] <= table["model_unguarded"]["answered"] == 1.0
    # Copying the input is as similar to the source as anything can be.
    assert table["copy"]["sim"] == pytest.approx(1.0, abs=1e-3)
    assert result["samples"]["mine"][0]["copy"] == rows[0]["call_out"]
    assert result["copy_fidelity_chrf_on_neutral_test"] is None
    assert "model_reranked" in capsys.readouterr().out

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hi", "label": "neutral"}\n')
    assert main(["eval", str(tiny_rewriter_bundle_with_embedder), str(bad)]) == 2
    assert "every row needs text fields call_out and call_in" in capsys.readouterr().err


def test_real_comments_slice_scores_kept_toxic_spans_without_a_reference(tiny_rewriter_bundle_with_embedder,
                                                                        tmp_path, capsys):
    from callinkit.cli import main

    folder = tmp_path / "toxic_spans"
    folder.mkdir()
    long_text = "word " * 70 + "idiot"
    # spans are character offsets of the toxic words (SemEval-2021 Task 5's format)
    def marked(text: str, word: str) -> str:
        return str(list(range(text.index(word), text.index(word) + len(word))))

    rows = [(marked("you are an idiot about the budget", "idiot"), "you are an idiot about the budget"),
            ("[0, 1, 2, 3, 4, 5, 6, 7]", "Pathetic take on the new bus lanes."),
            ("[]", "the council meets on Tuesday"),              # no marked span: not in the slice
            (marked(long_text, "idiot"), long_text)]                  # longer than a message: not in the slice
    with (folder / "tsd_test.csv").open("w", encoding="utf-8", newline="") as fh:
        import csv

        w = csv.writer(fh)
        w.writerow(["spans", "text"])
        w.writerows(rows)
    out = tmp_path / "eval.json"
    assert main(["eval", str(tiny_rewriter_bundle_with_embedder), "callin_corpus", "--slices", "real_comments",
                 "--real-comments", str(folder), "--limit", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    table = result["table"]["real_comments"]
    assert table["copy"]["n"] == 2 and table["copy"]["answered"] == 1.0
    assert table["copy"]["kept_attack"] == 1.0 and table["copy"]["clean"] == 0.0   # the copy keeps every span
    assert table["delete_insults"]["kept_attack"] == 0.0      # "idiot" and "pathetic" are in its lexicon
    for m in table.values():
        assert 0 <= m["clean"] <= m["answered"] - m["kept_attack"] + 1e-9 and 0 <= m["sta"] <= 1
        assert m["suggested_kept_attack"] <= min(m["suggested"], m["kept_attack"]) and m["suggested"] <= m["answered"]
    # through suggest() only what the classifier labels a call-out is rewritten: the copy is "suggested" there
    from callinkit import Classifier

    labels = [p.label for p in Classifier.load(tiny_rewriter_bundle_with_embedder / "classifier").predict(
        [s["source"] for s in result["samples"]["real_comments"]])]
    assert table["copy"]["suggested"] == labels.count("call_out") / 2 == table["copy"]["suggested_kept_attack"]
    samples = result["samples"]["real_comments"]
    assert {s["source"] for s in samples} == {rows[0][1], rows[1][1]}
    assert all(s["reference"] is None for s in samples)
    assert sorted(s["toxic_spans"][0] for s in samples) == ["Pathetic", "idiot"]
    assert "kept attack" in capsys.readouterr().out
    assert result["n_neutral"] == 0 and result["copy_fidelity_chrf_on_neutral_test"] is None  # not named
    assert main(["eval", str(tiny_rewriter_bundle_with_embedder), "callin_corpus", "--slices", "copy_fidelity",
                 "--real-comments", str(folder), "--limit", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["table"] == {} and result["n_neutral"] == 2
    assert main(["eval", str(tiny_rewriter_bundle_with_embedder), "callin_corpus", "--slices", "no_such"]) == 2
    assert "copy_fidelity" in capsys.readouterr().err


def test_kept_attack_matches_marked_words_not_function_words():
    from callinkit.train.rewriter_eval import kept_attack

    assert kept_attack("Honestly, you IDIOT.", ["idiot"])
    assert kept_attack("those people again", ["stupid people"]) is True      # a content word of the span
    assert not kept_attack("you could check the numbers", ["you moron"])      # "you" alone is no attack
    assert not kept_attack("that was foolish of me", ["fool"])                # whole words only
    assert not kept_attack("Could we talk about the budget?", ["idiot", "Pathetic"])


def test_copy_fidelity_reads_the_greedy_text_whatever_the_guard_says():
    # a withheld rewrite of a neutral text used to count as "" (chrF 0), as if the model had deleted the text
    from types import SimpleNamespace

    from callinkit.train.rewriter_eval import greedy_copies

    def rewrite(texts, num_candidates, guard=True):
        return [SimpleNamespace(text=None if guard else t.upper()) for t in texts]

    assert greedy_copies(SimpleNamespace(rewrite=rewrite), ["the bus is late", "see you at 6"]) == [
        "THE BUS IS LATE", "SEE YOU AT 6"]


def test_copy_fidelity_through_suggest_rewrites_only_what_the_classifier_calls_a_call_out():
    from types import SimpleNamespace

    from callinkit.train.rewriter_eval import copies_through_suggest

    labels = {"the bus is late": "neutral", "you clown": "call_out", "log off": "call_out"}
    answers = {"you clown": "I see it differently.", "log off": None}  # None: the rewriter abstained
    rewriter = SimpleNamespace(
        classifier=SimpleNamespace(predict=lambda texts: [SimpleNamespace(label=labels[t]) for t in texts]),
        rewrite=lambda texts: [SimpleNamespace(text=answers[t]) for t in texts])
    assert copies_through_suggest(rewriter, list(labels)) == ["the bus is late", "I see it differently.", "log off"]


def test_release1_bundle_guard_refuses_candidates_below_its_model_score_floor(tiny_rewriter_bundle, tmp_path):
    """guard.min_model_score (configs/rewriter.yaml's export.min_model_score): a candidate whose mean token
    log-probability is below it is refused as unlikely; a bundle without the key (older) has no floor."""
    import shutil

    from callinkit.serve import Rewriter

    texts = ["@sam you clown, that stat is wrong", "nobody asked you, log off"]
    before = Rewriter.load(tiny_rewriter_bundle).rewrite(texts, num_candidates=2, max_new_tokens=8)
    assert not any("unlikely" in c.problem_codes for r in before for c in r.candidates)
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_rewriter_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    floor = max(c.scores["model_score"] for r in before for c in r.candidates) - 1e-6  # only the best one passes it
    manifest["guard"] = {"min_model_score": floor}
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    after = Rewriter.load(bundle).rewrite(texts, num_candidates=2, max_new_tokens=8)
    for old, new in zip(before, after):
        assert [c.text for c in sorted(old.candidates, key=lambda c: c.text)] == \
            [c.text for c in sorted(new.candidates, key=lambda c: c.text)]  # same candidates, judged again
        for c in new.candidates:
            assert ("unlikely" in c.problem_codes) == (c.scores["model_score"] < floor)
        if not new.ok:
            assert new.text is None and new.reason_codes
    assert sum("unlikely" in c.problem_codes for r in after for c in r.candidates) >= 3


def test_the_guard_scores_each_candidate_alone_with_an_int8_classifier(tiny_bundle_int8):
    """An int8 classifier quantizes activations with one scale per batch, so batched, a candidate's P(call_in)
    (and whether it passes the guard) would follow the other candidates; the guard classifies each alone."""
    from callinkit.serve import Classifier
    from callinkit.serve.rewriter import select

    clf = Classifier.load(tiny_bundle_int8)
    text = "could you add a source for that stat?"
    others = ["ok", "this is a much longer message about the meeting next week, the parking, the bike lanes " * 3]
    alone = clf.predict([text])[0].scores["call_in"]
    assert clf.predict([others[1], text, others[0]])[1].scores["call_in"] != alone  # what the guard used to see
    assert clf.predict_each([others[1], text, others[0]])[1].scores["call_in"] == alone
    result = select("you clown, add a source", [others[1], text, others[0]], [{}, {}, {}], clf, None, 0.0)
    assert {c.text: c.scores["call_in"] for c in result.candidates}[text] == alone


def test_choose_re_guards_recorded_candidates_as_rewrite_does(tiny_lm_bundle):
    """`LMRewriter.choose()` is the selection half of `generate_and_select()`: given the same candidates and their
    log-probabilities it picks the same rewrite, so a changed guard can be re-run on recorded candidates."""
    from callinkit.serve import Rewriter

    rw = Rewriter.load(tiny_lm_bundle)
    rw.abstain_on_threat = False  # the tiny model's threat probe is random
    text = "you clown, that stat is fake"
    cands, result = rw.generate_and_select(text, 3, max_new_tokens=6, guard=False)
    again = rw.choose(text, rw.candidate_scores(text, 3, max_new_tokens=6), guard=False)
    assert list(cands) and again.text == result.text and again.scores == result.scores
    assert [c.text for c in again.candidates] == [c.text for c in result.candidates]
    # the means alone (scored_candidates()) pick the same text; only the tail score is missing from its scores
    means = rw.choose(text, rw.scored_candidates(text, 3, max_new_tokens=6), guard=False)
    assert means.text == result.text and means.scores == {k: v for k, v in result.scores.items() if k != "logprob_tail"}
