"""LoRA adapters for rewriter v2 (callinkit.train.lora) and the epoch-comparison sampler (lm_samples)."""

import json

import pytest

torch = pytest.importorskip("torch")


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_lora_starts_at_the_base_trains_only_adapters_and_merges_exactly(tiny_lm_base, tmp_path):
    from callinkit.train.lora import add_lora, apply_adapter, merge_lora, save_adapter
    from callinkit.train.rewriter_lm import load_lm

    model, _ = load_lm(str(tiny_lm_base))
    ids = torch.tensor([[1, 5, 9, 14, 3]])
    before = _logits(model, ids)
    wrapped = add_lora(model, rank=4, alpha=8)
    assert wrapped == 7 * model.config.num_hidden_layers
    assert torch.allclose(_logits(model, ids), before)  # B starts at zero: the same model
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.endswith(("lora_A", "lora_B")) for n in trainable)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("lora_B"):
                p.normal_(0, 0.05)  # as if trained
    adapted = _logits(model, ids)
    assert not torch.allclose(adapted, before)
    save_adapter(model, tmp_path / "adapter", rank=4, alpha=8, dtype="float32")
    assert merge_lora(model) == wrapped
    assert not any("lora" in n for n, _ in model.named_parameters())
    assert torch.allclose(_logits(model, ids), adapted, atol=1e-5)

    fresh, _ = load_lm(str(tiny_lm_base))  # the saved adapter applied elsewhere gives the same model
    assert apply_adapter(fresh, tmp_path / "adapter") == wrapped
    assert torch.allclose(_logits(fresh, ids), adapted, atol=1e-5)


def test_adapter_for_another_base_is_refused_with_the_layer_named(tiny_lm_base, tmp_path):
    from callinkit.errors import CallinkitError
    from callinkit.train.lora import add_lora, apply_adapter, save_adapter
    from callinkit.train.rewriter_lm import load_lm

    model, _ = load_lm(str(tiny_lm_base))
    add_lora(model, rank=2, alpha=2)
    save_adapter(model, tmp_path / "a", rank=2, alpha=2)
    from safetensors.torch import load_file, save_file

    state = load_file(str(tmp_path / "a" / "lora_adapter.safetensors"))
    key = next(k for k in state if k.endswith("q_proj.lora_A"))
    state[key] = torch.zeros(2, state[key].shape[1] + 3, dtype=state[key].dtype)
    save_file(state, str(tmp_path / "a" / "lora_adapter.safetensors"))
    plain, _ = load_lm(str(tiny_lm_base))
    with pytest.raises(CallinkitError, match="q_proj.*another base model"):
        apply_adapter(plain, tmp_path / "a")


def test_unknown_lora_targets_say_what_the_layers_are_called(tiny_lm_base):
    from callinkit.errors import CallinkitError
    from callinkit.train.lora import add_lora
    from callinkit.train.rewriter_lm import load_lm

    model, _ = load_lm(str(tiny_lm_base))
    with pytest.raises(CallinkitError, match="matched no linear layer.*q_proj"):
        add_lora(model, 2, 2, targets=("query", "value"))


def test_lora_recipe_trains_by_epochs_keeps_an_adapter_per_save_and_ends_with_a_plain_model(tiny_lm_base, tmp_path):
    from conftest import tiny_lm_config

    from callinkit.config import config_from_dict
    from callinkit.train.rewriter_lm import train

    cfg = tiny_lm_config(tiny_lm_base, tmp_path / "run")
    cfg["model"].update({"lora_rank": 4, "lora_alpha": 8})
    cfg["stages"][0].update({"epochs": 2, "eval_steps": 2, "save_steps": 2})
    info = train(config_from_dict(cfg), tmp_path / "run")
    stage = tmp_path / "run" / "stages" / "0-callin"
    assert info["stages"][0]["lora"]["layers"] > 0
    assert info["stages"][0]["trainable_parameters"] < info["stages"][0]["total_parameters"] / 2
    steps = sorted(int(p.name.split("-")[1]) for p in (stage / "adapters").iterdir())
    assert steps and steps[-1] == info["stages"][0]["steps"]
    assert (stage / "adapter" / "lora.json").is_file()
    from safetensors.torch import load_file

    keys = load_file(str(tmp_path / "run" / "best" / "model.safetensors")).keys()
    assert not any("lora" in k or ".base." in k for k in keys)  # export and eval need to know nothing of LoRA

    # lm_samples: one greedy output per adapter and source, in the sources' order
    sources = tmp_path / "sources.jsonl"
    sources.write_text("\n".join(json.dumps({"id": i, "source": s, "context": c}) for i, s, c in
                                 [("a", "you clown, delete this", None), ("b", "log off", "I like trains")]) + "\n")
    from callinkit.train.lm_samples import write_samples

    out = tmp_path / "samples.jsonl"
    n = write_samples(str(tiny_lm_base), sources, out, [str(stage / "adapters" / f"step-{s}") for s in steps[-2:]],
                      batch_size=2, max_new_tokens=4)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert n == len(rows) == 2 * min(2, len(steps))
    assert [r["id"] for r in rows[:2]] == ["a", "b"] and all(isinstance(r["output"], str) for r in rows)


def test_lm_samples_refuses_an_empty_source_with_its_line(tmp_path):
    from callinkit.errors import DataError
    from callinkit.train.lm_samples import read_sources

    f = tmp_path / "s.jsonl"
    f.write_text('{"id": 1, "source": "fine"}\n{"id": 2, "source": "  "}\n')
    with pytest.raises(DataError, match=r"s.jsonl:2"):
        read_sources(f)


def test_peft_copy_of_an_adapter_loads_in_peft_as_the_same_model(tiny_lm_base, tmp_path):
    peft = pytest.importorskip("peft")
    from callinkit.train.lora import add_lora, save_adapter, to_peft
    from callinkit.train.rewriter_lm import load_lm

    model, _ = load_lm(str(tiny_lm_base))
    add_lora(model, rank=4, alpha=8)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("lora_B"):
                p.normal_(0, 0.05)
    ids = torch.tensor([[1, 5, 9, 14, 3]])
    want = _logits(model, ids)
    save_adapter(model, tmp_path / "adapter", rank=4, alpha=8, dtype="float32")
    to_peft(tmp_path / "adapter", tmp_path / "peft", str(tiny_lm_base))
    plain, _ = load_lm(str(tiny_lm_base))
    got = _logits(peft.PeftModel.from_pretrained(plain, str(tmp_path / "peft")), ids)
    assert torch.allclose(got, want, atol=1e-5)


def test_export_finds_the_weights_under_the_last_lora_stage(tmp_path):
    from callinkit.config import config_from_dict
    from callinkit.train.rewriter_lm_export import lora_branch_source

    def cfg(rank, stages):
        return config_from_dict({"task": "rewriter_lm", "model": {"lora_rank": rank},
                                 "stages": [{"name": n, "sources": [{"name": "callin_corpus"}]} for n in stages]})

    run, base = tmp_path / "run", tmp_path / "base"
    (base).mkdir()
    (base / "config.json").write_text("{}")
    (run / "stages" / "0-a" / "adapter").mkdir(parents=True)
    (run / "stages" / "0-a" / "adapter" / "lora.json").write_text("{}")
    (run / "run_info.json").write_text(json.dumps({"base_model": {"location": str(base)}}))
    assert lora_branch_source(run, cfg(8, ["a"])) == (base, run / "stages" / "0-a" / "adapter")
    assert lora_branch_source(run, cfg(0, ["a"])) is None  # full fine-tuning: export the merged weights
    (run / "stages" / "1-b" / "adapter").mkdir(parents=True)
    (run / "stages" / "1-b" / "adapter" / "lora.json").write_text("{}")
    (run / "stages" / "0-a" / "final").mkdir()
    (run / "stages" / "0-a" / "final" / "config.json").write_text("{}")
    assert lora_branch_source(run, cfg(8, ["a", "b"])) == (run / "stages" / "0-a" / "final",
                                                           run / "stages" / "1-b" / "adapter")


def _train_like(model, std=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("lora_B"):
                p.copy_(torch.randn(p.shape, generator=g) * std)


def test_two_stages_adapters_combine_into_one_on_the_base(tiny_lm_base, tmp_path):
    """A second stage's adapter trains on the first one merged; their concatenation applied to the plain base
    is the same model, so the export can keep the base exact and add one adapter."""
    from callinkit.train.lora import add_lora, apply_adapter, combine_adapters, merge_lora, save_adapter
    from callinkit.train.rewriter_lm import load_lm

    ids = torch.tensor([[1, 5, 9, 14, 3, 7]])
    model, _ = load_lm(str(tiny_lm_base))
    add_lora(model, rank=4, alpha=8)
    _train_like(model, seed=1)
    save_adapter(model, tmp_path / "s0", rank=4, alpha=8, dtype="float32")
    merge_lora(model)
    add_lora(model, rank=2, alpha=8)  # another rank and scale
    _train_like(model, seed=2)
    save_adapter(model, tmp_path / "s1", rank=2, alpha=8, dtype="float32")
    merge_lora(model)
    want = _logits(model, ids)

    combined = combine_adapters([tmp_path / "s0", tmp_path / "s1"], tmp_path / "both")
    info = json.loads((combined / "lora.json").read_text())
    assert info["rank"] == 6 and info["alpha"] == 6.0
    plain, _ = load_lm(str(tiny_lm_base))
    assert apply_adapter(plain, combined) == 7 * plain.config.num_hidden_layers
    assert torch.allclose(_logits(plain, ids), want, atol=1e-5)
    only_first, _ = load_lm(str(tiny_lm_base))
    apply_adapter(only_first, tmp_path / "s0")
    assert not torch.allclose(_logits(only_first, ids), want, atol=1e-3)  # the second stage matters


def test_a_combined_adapter_above_max_rank_is_cut_by_a_truncated_svd(tiny_lm_base, tmp_path):
    """Stacked preference rounds add up to a large rank whose update is nearly low-rank; export.lora_max_rank
    keeps the best approximation of each layer's update at that rank (Eckart-Young) and says what it kept."""
    from callinkit.train.lora import add_lora, apply_adapter, combine_adapters, save_adapter, truncate_update
    from callinkit.train.rewriter_lm import load_lm

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 20, generator=g), torch.randn(12, 6, generator=g)
    a3, b3, kept = truncate_update(a, b, 3)
    assert a3.shape == (3, 20) and b3.shape == (12, 3)
    s = torch.linalg.svdvals(b @ a)
    assert torch.allclose(torch.linalg.norm(b @ a - b3 @ a3), s[3:].norm(), atol=1e-4)
    assert kept == pytest.approx(float((s[:3] ** 2).sum() / (s ** 2).sum()), abs=1e-6)

    ids = torch.tensor([[1, 5, 9, 14, 3, 7]])
    model, _ = load_lm(str(tiny_lm_base))
    add_lora(model, rank=4, alpha=8)
    _train_like(model, seed=1)
    for stage in ("s0", "s1"):  # the same update twice: rank 8 stored, rank 4 in fact
        save_adapter(model, tmp_path / stage, rank=4, alpha=8, dtype="float32")
    stages = [tmp_path / "s0", tmp_path / "s1"]

    def logits_with(adapter):
        plain, _ = load_lm(str(tiny_lm_base))
        apply_adapter(plain, adapter)
        return _logits(plain, ids)

    exact = combine_adapters(stages, tmp_path / "exact")
    assert json.loads((exact / "lora.json").read_text())["rank"] == 8
    cut = combine_adapters(stages, tmp_path / "cut", max_rank=4)
    info = json.loads((cut / "lora.json").read_text())
    assert info["rank"] == 4 and info["truncated_from_rank"] == 8 and info["min_share_kept"] > 0.9999
    assert torch.allclose(logits_with(cut), logits_with(exact), atol=1e-4)
    lossy = json.loads((combine_adapters(stages, tmp_path / "lossy", max_rank=1) / "lora.json").read_text())
    assert lossy["rank"] == 1 and lossy["min_share_kept"] < 0.999
    assert "truncated_from_rank" not in json.loads(
        (combine_adapters(stages, tmp_path / "wide", max_rank=8) / "lora.json").read_text())
    with pytest.raises(Exception, match="max_rank"):
        combine_adapters(stages, tmp_path / "none", max_rank=0)


def test_export_combines_every_stages_adapter_onto_the_base(tiny_lm_base, tmp_path):
    from callinkit.config import config_from_dict
    from callinkit.train.lora import add_lora, save_adapter
    from callinkit.train.rewriter_lm import load_lm
    from callinkit.train.rewriter_lm_export import lora_branch_source

    config = config_from_dict({"task": "rewriter_lm", "model": {"lora_rank": 4},
                               "stages": [{"name": n, "sources": [{"name": "callin_corpus"}]} for n in "ab"]})
    run = tmp_path / "run"
    model, _ = load_lm(str(tiny_lm_base))
    add_lora(model, rank=4, alpha=8)
    for i, name in enumerate("ab"):
        save_adapter(model, run / "stages" / f"{i}-{name}" / "adapter", rank=4, alpha=8)
    (run / "run_info.json").write_text(json.dumps({"base_model": {"location": str(tiny_lm_base)}}))
    base, adapter = lora_branch_source(run, config, tmp_path / "work")
    assert base == tiny_lm_base and adapter == tmp_path / "work" / "adapter_on_base"
    assert json.loads((adapter / "lora.json").read_text())["rank"] == 8


def test_lora_max_rank_must_be_a_positive_rank():
    from callinkit.config import config_from_dict
    from callinkit.errors import ConfigError

    stages = [{"name": "callin", "sources": [{"name": "callin_corpus"}]}]
    config = config_from_dict({"task": "rewriter_lm", "stages": stages, "export": {"lora_max_rank": 48}})
    assert config.export.lora_max_rank == 48
    with pytest.raises(ConfigError, match="lora_max_rank: 0 is not a rank"):
        config_from_dict({"task": "rewriter_lm", "stages": stages, "export": {"lora_max_rank": 0}})
