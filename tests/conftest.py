"""Shared fixtures: a tiny random BERT with MiniLM's real tokenizer, so training tests take seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT (random weights) saved with all-MiniLM-L6-v2's tokenizer."""
    pytest.importorskip("torch")
    from transformers import AutoTokenizer, BertConfig, BertModel

    from callinkit.train.base_model import packaged_minilm_dir

    out = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm_dir())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    import torch

    torch.manual_seed(0)
    BertModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def tiny_classifier_config(base: Path, run_dir: Path, **training) -> dict:
    """A classifier config dict that trains the tiny model on the fixture file."""
    return {
        "task": "classifier",
        "name": "tiny",
        "run_dir": str(run_dir),
        "model": {"base": str(base), "max_length": 32},
        "data": {"sources": [{"name": "jsonl", "path": str(FIXTURES / "classify_tiny.jsonl")}]},
        "training": {"max_steps": 40, "batch_size": 8, "learning_rate": 3e-3, "warmup_ratio": 0.0,
                     "logging_steps": 5, "eval_steps": 10, "save_steps": 10, "seed": 0,
                     "early_stopping_patience": None, **training},
        "export": {"quantize": "int8", "min_int8_agreement": 0.9},
    }


@pytest.fixture(scope="session")
def tiny_run(tiny_base, tmp_path_factory) -> Path:
    """A classifier run folder: the tiny model trained 40 steps on the fixture file."""
    from callinkit.config import config_from_dict
    from callinkit.train.classifier import train

    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    train(config_from_dict(tiny_classifier_config(tiny_base, run_dir)))
    return run_dir


def fixture_texts() -> list[str]:
    import json

    return [json.loads(line)["text"] for line in (FIXTURES / "classify_tiny.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run, tmp_path_factory) -> Path:
    """The tiny run exported without quantization (fp32)."""
    from callinkit.train.export import export_classifier

    out = tmp_path_factory.mktemp("bundles") / "fp32"
    export_classifier(tiny_run, out, quantize="none")
    return out


@pytest.fixture(scope="session")
def tiny_bundle_int8(tiny_run, tmp_path_factory) -> Path:
    from callinkit.train.export import export_classifier

    out = tmp_path_factory.mktemp("bundles") / "int8"
    export_classifier(tiny_run, out, quantize="int8", agreement_texts=fixture_texts())
    return out


def tiny_rewriter_config(base: Path, run_dir: Path, steps: int = 30) -> dict:
    """A two-stage rewriter config on the tiny model: copy, then the fixture pairs."""
    pairs = str(FIXTURES / "pairs_tiny.jsonl")
    stage = {"max_steps": steps, "batch_size": 4, "learning_rate": 3e-3, "logging_steps": 5, "eval_steps": 10,
             "save_steps": 10, "warmup_ratio": 0.0}
    return {
        "task": "rewriter", "name": "tiny-rewriter", "run_dir": str(run_dir), "seed": 0,
        "model": {"base": str(base), "encoder_layers": [0, 1], "decoder_layers": [0, 1],
                  "max_source_length": 32, "max_target_length": 32},
        "stages": [
            {"name": "copy", "sources": [{"name": "jsonl", "path": pairs, "mode": "copy", "text_field": "call_in"}],
             **stage},
            {"name": "callin", "sources": [{"name": "jsonl", "path": pairs}], **stage},
        ],
        "generation": {"num_beams": 3, "num_candidates": 3, "max_new_tokens": 12, "no_repeat_ngram_size": 3,
                       "repetition_penalty": 1.2},
        "export": {"quantize": "none", "atol": 1e-3},
    }


@pytest.fixture(scope="session")
def tiny_rewriter_run(tiny_base, tmp_path_factory) -> Path:
    from callinkit.config import config_from_dict
    from callinkit.train.rewriter import train

    run_dir = tmp_path_factory.mktemp("runs") / "tiny-rewriter"
    train(config_from_dict(tiny_rewriter_config(tiny_base, run_dir)))
    return run_dir


@pytest.fixture(scope="session")
def tiny_rewriter_bundle(tiny_rewriter_run, tiny_bundle, tmp_path_factory) -> Path:
    """The tiny rewriter exported with the tiny classifier for reranking (no embedder: it is full MiniLM)."""
    from callinkit.train.rewriter_bundle import export_rewriter

    out = tmp_path_factory.mktemp("bundles") / "rewriter"
    export_rewriter(tiny_rewriter_run, out, quantize="none", classifier_bundle=str(tiny_bundle), with_embedder=False)
    return out


@pytest.fixture(scope="session")
def tiny_rewriter_bundle_with_embedder(tiny_rewriter_bundle, tiny_base, tmp_path_factory) -> Path:
    """The tiny rewriter bundle plus a similarity embedder pooled from the tiny base (for eval and release)."""
    import shutil

    from callinkit.train.rewriter_export import export_embedder

    out = tmp_path_factory.mktemp("bundles") / "rewriter-with-embedder"
    shutil.copytree(tiny_rewriter_bundle, out)
    export_embedder(out / "embedder", "none", base=str(tiny_base))
    return out


def build_tiny_lm(folder: Path) -> Path:
    """A tiny random Llama (2 layers, width 32) with a byte-level BPE tokenizer and SmolLM2's ChatML tokens
    at SmolLM2's ids (<|endoftext|> 0, <|im_start|> 1, <|im_end|> 2): rewriter v2's recipe, export and
    runtime on a model that trains in seconds."""
    import json as _json

    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from callinkit.corpus import read_records

    texts = [r.data["call_out"] + " " + r.data["call_in"] for r in read_records("pairs")[:800]]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   unk_token="<|endoftext|>", pad_token="<|im_end|>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=512,
                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2, pad_token_id=2)
    model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    (folder / "README.txt").write_text(_json.dumps({"tiny": True}))
    return folder


@pytest.fixture(scope="session")
def tiny_lm_base(tmp_path_factory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("tiny-lm") / "base")


def tiny_lm_config(base: Path, run_dir: Path, steps: int = 6) -> dict:
    pairs = str(FIXTURES / "pairs_tiny.jsonl")
    return {
        "task": "rewriter_lm", "name": "tiny-rewriter-lm", "run_dir": str(run_dir), "seed": 0,
        "model": {"base": str(base), "max_length": 96, "freeze_embeddings": False},
        "stages": [{"name": "callin", "sources": [{"name": "jsonl", "path": pairs}], "max_steps": steps,
                    "batch_size": 4, "learning_rate": 3e-3, "logging_steps": 2, "eval_steps": 3, "save_steps": 3,
                    "warmup_ratio": 0.0, "validation_examples": 8}],
        "generation": {"num_candidates": 3, "max_new_tokens": 12},
        # a tail floor no text of the tiny model falls under (its tokens' log-probabilities are about -11): the
        # export must write it into the guard, and nothing else changes
        "export": {"precision": "fp32", "min_logprob_tail": -50.0},
    }


@pytest.fixture(scope="session")
def tiny_lm_run(tiny_lm_base, tmp_path_factory) -> Path:
    from callinkit.config import config_from_dict
    from callinkit.train.rewriter_lm import train

    run_dir = tmp_path_factory.mktemp("runs") / "tiny-rewriter-lm"
    train(config_from_dict(tiny_lm_config(tiny_lm_base, run_dir)))
    return run_dir


@pytest.fixture(scope="session")
def tiny_lm_bundle(tiny_lm_run, tiny_bundle, tiny_base, tmp_path_factory) -> Path:
    from callinkit.train.rewriter_lm_export import export_rewriter_lm

    out = tmp_path_factory.mktemp("bundles") / "rewriter-lm"
    # The concern-similarity embedder is pooled from the tiny BERT here (MiniLM in real exports).
    export_rewriter_lm(tiny_lm_run, out, precision="fp32", classifier_bundle=str(tiny_bundle),
                       embedder_base=str(tiny_base))
    return out
