"""Preference tuning on judged rewrites (callinkit.train.preference): pairs, the loss, and a tiny stage."""

import json
import math

import pytest

torch = pytest.importorskip("torch")

from callinkit.train import preference as pref  # noqa: E402

VALIDATION = "lmao imagine calling people psycho in 2026"  # the validation call-out of pairs_tiny.jsonl
REFERENCE = "Calling people psycho hurts folks with mental illness."


def write_judging(folder, source=VALIDATION):
    """A judging folder in the layout of model_cards/judging/2026-12-04-logprob (items + verdicts_K)."""
    folder.mkdir(parents=True, exist_ok=True)
    items = [{"id": "v0", "source": source, "context": None, "candidate": "Calling people psycho can hurt folks."},
             {"id": "v1", "source": source, "context": None, "candidate": "psycho psycho, imagine it lmao"},
             {"id": "v2", "source": source, "context": None, "candidate": "Please take it down."}]
    (folder / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    verdicts = [{"id": "v0", "rating": "good"}, {"id": "v1", "rating": "bad"}, {"id": "v2", "rating": "bad"}]
    (folder / "verdicts_1.jsonl").write_text("".join(json.dumps(v) + "\n" for v in verdicts))
    return folder


def test_pairs_put_good_and_reference_over_bad_and_never_pair_two_bad_ones(tmp_path):
    rated = pref.rated_rewrites(write_judging(tmp_path / "j"))
    pairs = pref.preference_pairs(rated, {VALIDATION: REFERENCE}, {VALIDATION})
    got = {(p["chosen"], p["rejected"]) for p in pairs}
    good, bad1, bad2 = "Calling people psycho can hurt folks.", "psycho psycho, imagine it lmao", "Please take it down."
    assert got == {(good, bad1), (good, bad2), (REFERENCE, bad1), (REFERENCE, bad2)}


def test_ab_verdicts_count_each_sides_rating_and_judges_are_averaged(tmp_path):
    folder = tmp_path / "ab"
    folder.mkdir()
    item = {"id": "c1", "call_out": VALIDATION, "context": None, "A": "first", "B": "second"}
    for k, (ra, rb) in enumerate([("good", "bad"), ("acceptable", "bad")], start=1):
        (folder / f"items_{k}.jsonl").write_text(json.dumps(item) + "\n")
        (folder / f"verdicts_{k}.jsonl").write_text(json.dumps({"id": "c1", "rating_A": ra, "rating_B": rb}) + "\n")
    rated = pref.rated_rewrites(folder)
    assert sorted((r["text"], r["rating"]) for r in rated) == [("first", 1.0), ("first", 2.0), ("second", 0.0),
                                                               ("second", 0.0)]
    pairs = pref.preference_pairs(rated, {}, {VALIDATION})
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [("first", "second")]


def test_one_candidate_items_split_across_judges_are_not_read_as_ab_choices(tmp_path):
    folder = write_judging(tmp_path / "j")
    (folder / "items_1.jsonl").write_text((folder / "items.jsonl").read_text())  # what judge 1 saw
    rated = pref.rated_rewrites(folder)
    assert sorted(r["rating"] for r in rated) == [0.0, 0.0, 2.0]


def test_a_judged_call_out_outside_the_allowed_split_is_refused(tmp_path):
    rated = pref.rated_rewrites(write_judging(tmp_path / "j", source="a call-out of the test split"))
    with pytest.raises(ValueError, match="not in the allowed split"):
        pref.preference_pairs(rated, {}, {VALIDATION})


def test_dpo_loss_starts_at_log_2_and_its_gradient_raises_the_chosen_over_the_rejected():
    policy = torch.tensor([-10.0, -12.0], requires_grad=True)  # chosen row, then rejected row
    ref, counts = policy.detach().clone(), torch.tensor([5, 6])
    loss, stats = pref.dpo_loss(policy, counts, ref, beta=0.1, sft_weight=0.0)
    assert loss.item() == pytest.approx(math.log(2)) and stats["reward_margin"] == 0.0
    loss.backward()
    assert policy.grad[0] < 0 < policy.grad[1]  # gradient descent raises chosen, lowers rejected
    with_sft, _ = pref.dpo_loss(policy.detach(), counts, ref, beta=0.1, sft_weight=0.5)
    assert with_sft.item() == pytest.approx(math.log(2) + 0.5 * 10.0 / 5)


def test_pair_collator_stacks_chosen_rows_then_rejected_rows():
    rows = [{"chosen": {"input_ids": [1, 2, 3], "attention_mask": [1, 1, 1], "labels": [-100, 2, 3]},
             "rejected": {"input_ids": [1, 4], "attention_mask": [1, 1], "labels": [-100, 4]},
             "ref_chosen": -1.0, "ref_rejected": -2.0}]
    batch = pref.PairCollator(pad_id=0)(rows)
    assert batch["input_ids"].tolist() == [[1, 2, 3], [1, 4, 0]]
    assert batch["labels"].tolist() == [[-100, 2, 3], [-100, 4, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["ref"].tolist() == [-1.0, -2.0]


def _preference_config(tiny_lm_base, run_dir, judging):
    from conftest import tiny_lm_config

    config = tiny_lm_config(tiny_lm_base, run_dir, steps=3)
    config["model"]["lora_rank"] = 4
    config["model"]["lora_alpha"] = 8
    sft = config["stages"][0]
    config["stages"].append({**sft, "name": "judged", "objective": "preference", "preferences": [str(judging)],
                             "max_steps": 8, "batch_size": 2, "learning_rate": 2e-2, "beta": 0.5,
                             "eval_steps": 4, "save_steps": 4, "heldout_fraction": 0.5})
    return config


def test_a_preference_stage_raises_the_judged_better_rewrite_and_exports_on_the_base(tiny_lm_base, tmp_path):
    """Two judged call-outs (one held out); after the stage the model prefers the chosen rewrites of the
    trained call-out more than before, and the export sees one combined adapter on the base model."""
    from callinkit.config import config_from_dict
    from callinkit.train.rewriter_lm import load_lm, system_prompt, train
    from callinkit.train.rewriter_lm_export import lora_branch_source

    judging = write_judging(tmp_path / "judging")
    second = write_judging(tmp_path / "judging2", source="great game last night")
    raw = _preference_config(tiny_lm_base, tmp_path / "run", judging)
    raw["stages"][1]["preferences"] = [str(judging), str(second)]
    config = config_from_dict(raw)
    run = tmp_path / "run"
    train(config, run_dir=run)
    info = json.loads((run / "stages" / "1-judged" / "stage_info.json").read_text())
    assert info["data"]["pairs"] == {"train": 4, "heldout": 4} and info["data"]["call_outs"] == 2
    assert (run / "stages" / "1-judged" / "adapter" / "lora.json").is_file()
    held = set(info["data"]["heldout_call_outs"])
    rated = pref.rated_rewrites(judging) + pref.rated_rewrites(second)
    pairs = [p for p in pref.preference_pairs(rated, {VALIDATION: REFERENCE}, {VALIDATION, "great game last night"})
             if p["source"] not in held]
    assert len(pairs) == 4

    def margins(folder):
        model, tok = load_lm(str(folder))
        rows = [pref.encode_pair(tok, p, 96, system_prompt(config)) for p in pairs]
        batch = pref.PairCollator(tok.pad_token_id)(rows)
        with torch.no_grad():
            logps, _ = pref.response_logps(model, batch["input_ids"], batch["attention_mask"], batch["labels"])
        return (logps[:4] - logps[4:]).tolist()

    before, after = margins(run / "stages" / "0-callin" / "final"), margins(run / "best")
    assert sum(after) > sum(before) + 1.0, (before, after)  # the trained pairs: chosen rose over rejected

    base, adapter = lora_branch_source(run, config, tmp_path / "work")
    assert base == tiny_lm_base and json.loads((adapter / "lora.json").read_text())["rank"] == 8


def test_a_preference_stage_without_judging_folders_is_a_config_error(tiny_lm_base, tmp_path):
    from callinkit.config import config_from_dict
    from callinkit.errors import CallinkitError

    config = _preference_config(tiny_lm_base, tmp_path / "run", tmp_path / "none")
    config["stages"][1]["preferences"] = []
    with pytest.raises((CallinkitError, ValueError), match="objective: preference needs"):
        config_from_dict(config)
