"""Build the rewriter: a native BART model warm-started from all-MiniLM-L6-v2 (BERT).

BART with d_model 384, 12 heads, FFN 1536, GELU, learned positions, `layernorm_embedding` and no embedding
scale has BERT's post-LayerNorm layer algebra, so MiniLM's weights map onto it one to one:

  BERT                                   BART
  embeddings.word_embeddings             shared (= encoder/decoder embed_tokens = tied lm_head)
  position_embeddings + token_type[0]    embed_positions rows 2.. (BART's position offset is 2)
  embeddings.LayerNorm                   layernorm_embedding (encoder and decoder)
  attention.self.query/key/value         self_attn.q_proj/k_proj/v_proj
  attention.output.dense / LayerNorm     self_attn.out_proj / self_attn_layer_norm
  intermediate.dense / output.dense      fc1 / fc2
  output.LayerNorm                       final_layer_norm

The decoder's cross-attention (`encoder_attn` and its layer norm) starts as a copy of the same MiniLM
layer's self-attention: measured here, that learns a copy task in a few hundred steps where a fresh
cross-attention stalls. Special tokens: pad [PAD], decoder start / bos [CLS], eos [SEP].
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from callinkit.errors import CallinkitError

# Placeholder tokens for spans the uncased vocabulary cannot hold (see callinkit.textproc).
N_PLACEHOLDERS = 20


def load_minilm(path: str | Path):
    """(BertModel, tokenizer) of the base model, with the placeholder tokens registered."""
    from transformers import AutoTokenizer, BertModel

    bert = BertModel.from_pretrained(str(path), add_pooling_layer=False)
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    add_placeholder_tokens(tokenizer)
    return bert, tokenizer


def add_placeholder_tokens(tokenizer) -> None:
    """Make BERT's [unused0..N] tokens whole tokens (not split into '[', 'unused', ...), never lowercased."""
    from tokenizers import AddedToken

    tokens = [AddedToken(f"[unused{i}]", single_word=False, normalized=False, special=False)
              for i in range(N_PLACEHOLDERS)]
    tokenizer.add_tokens(tokens)
    ids = tokenizer.convert_tokens_to_ids([f"[unused{i}]" for i in range(N_PLACEHOLDERS)])
    if max(ids) >= tokenizer.vocab_size:
        raise CallinkitError("the base tokenizer has no [unused*] tokens in its vocabulary; placeholders need them")


def bart_config(bert_config, encoder_layers: int, decoder_layers: int, tokenizer):
    from transformers import BartConfig

    if bert_config.hidden_act != "gelu":
        raise CallinkitError(f"the base model uses {bert_config.hidden_act!r}; the MiniLM->BART map needs GELU")
    return BartConfig(
        vocab_size=bert_config.vocab_size,
        d_model=bert_config.hidden_size,
        encoder_layers=encoder_layers,
        decoder_layers=decoder_layers,
        encoder_attention_heads=bert_config.num_attention_heads,
        decoder_attention_heads=bert_config.num_attention_heads,
        encoder_ffn_dim=bert_config.intermediate_size,
        decoder_ffn_dim=bert_config.intermediate_size,
        activation_function="gelu",
        max_position_embeddings=bert_config.max_position_embeddings,
        scale_embedding=False,
        dropout=0.1,
        attention_dropout=0.1,
        activation_dropout=0.0,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.cls_token_id,
        forced_eos_token_id=None,
        tie_word_embeddings=True,
        is_encoder_decoder=True,
    )


def _attention(prefix: str, layer) -> dict:
    a = layer.attention
    out = {}
    for bart_name, lin in (("q_proj", a.self.query), ("k_proj", a.self.key), ("v_proj", a.self.value),
                           ("out_proj", a.output.dense)):
        out[f"{prefix}.{bart_name}.weight"] = lin.weight
        out[f"{prefix}.{bart_name}.bias"] = lin.bias
    return out


def _layer_norm(prefix: str, ln) -> dict:
    return {f"{prefix}.weight": ln.weight, f"{prefix}.bias": ln.bias}


def _ffn(prefix: str, layer) -> dict:
    return {f"{prefix}.fc1.weight": layer.intermediate.dense.weight, f"{prefix}.fc1.bias": layer.intermediate.dense.bias,
            f"{prefix}.fc2.weight": layer.output.dense.weight, f"{prefix}.fc2.bias": layer.output.dense.bias}


def minilm_to_bart_state(bert, encoder_from: Sequence[int], decoder_from: Sequence[int]) -> dict:
    """The BART state dict (as tensors) mapped from a BertModel; see the module docstring."""
    import torch

    emb = bert.embeddings
    positions = emb.position_embeddings.weight + emb.token_type_embeddings.weight[0]
    table = torch.cat([torch.zeros(2, positions.shape[1]), positions], dim=0)  # rows 0-1: BART's offset
    state = {"model.shared.weight": emb.word_embeddings.weight, "lm_head.weight": emb.word_embeddings.weight}
    for side in ("encoder", "decoder"):
        state[f"model.{side}.embed_tokens.weight"] = emb.word_embeddings.weight
        state[f"model.{side}.embed_positions.weight"] = table
        state.update(_layer_norm(f"model.{side}.layernorm_embedding", emb.LayerNorm))
    for i, src in enumerate(encoder_from):
        layer = bert.encoder.layer[src]
        p = f"model.encoder.layers.{i}"
        state.update(_attention(f"{p}.self_attn", layer))
        state.update(_layer_norm(f"{p}.self_attn_layer_norm", layer.attention.output.LayerNorm))
        state.update(_ffn(p, layer))
        state.update(_layer_norm(f"{p}.final_layer_norm", layer.output.LayerNorm))
    for i, src in enumerate(decoder_from):
        layer = bert.encoder.layer[src]
        p = f"model.decoder.layers.{i}"
        state.update(_attention(f"{p}.self_attn", layer))
        state.update(_layer_norm(f"{p}.self_attn_layer_norm", layer.attention.output.LayerNorm))
        # Cross-attention starts as a copy of the same layer's self-attention (see the module docstring).
        state.update(_attention(f"{p}.encoder_attn", layer))
        state.update(_layer_norm(f"{p}.encoder_attn_layer_norm", layer.attention.output.LayerNorm))
        state.update(_ffn(p, layer))
        state.update(_layer_norm(f"{p}.final_layer_norm", layer.output.LayerNorm))
    return {k: v.detach().clone() for k, v in state.items()}


def build_rewriter(base_path: str | Path, encoder_from: Sequence[int], decoder_from: Sequence[int]):
    """(BartForConditionalGeneration, tokenizer) warm-started from the BERT model at `base_path`."""
    import torch
    from transformers import BartForConditionalGeneration

    bert, tokenizer = load_minilm(base_path)
    n = bert.config.num_hidden_layers
    bad = [i for i in (*encoder_from, *decoder_from) if not 0 <= i < n]
    if bad or not encoder_from or not decoder_from:
        raise CallinkitError(f"encoder/decoder layers must be non-empty lists of base layers 0..{n - 1}, got "
                             f"{list(encoder_from)} / {list(decoder_from)}")
    config = bart_config(bert.config, len(encoder_from), len(decoder_from), tokenizer)
    model = BartForConditionalGeneration(config)
    state = minilm_to_bart_state(bert, encoder_from, decoder_from)
    state["final_logits_bias"] = torch.zeros_like(model.final_logits_bias)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Tied copies of the shared embedding may be reported missing; everything else must be mapped.
    really_missing = [k for k in missing if not k.endswith(("embed_tokens.weight", "lm_head.weight"))]
    if really_missing or unexpected:
        raise CallinkitError(f"MiniLM->BART mapping is incomplete: missing {really_missing}, unexpected {unexpected}")
    model.tie_weights()
    # BART's LayerNorms use eps 1e-5 where BERT uses layer_norm_eps (1e-12); match it so the encoder is an
    # exact copy (the gap was ~2e-3 in hidden states otherwise). The eps travels with the module into ONNX.
    for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            module.eps = bert.config.layer_norm_eps
    model.config.callinkit_layer_norm_eps = bert.config.layer_norm_eps
    model.generation_config.decoder_start_token_id = tokenizer.cls_token_id
    model.generation_config.bos_token_id = tokenizer.cls_token_id
    model.generation_config.eos_token_id = tokenizer.sep_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.forced_eos_token_id = None
    return model, tokenizer


def load_rewriter_checkpoint(path: str | Path, attn_implementation: str | None = None):
    """(model, tokenizer) from a saved rewriter checkpoint, with BERT's LayerNorm eps re-applied."""
    import torch
    from transformers import AutoTokenizer, BartForConditionalGeneration

    kwargs = {"attn_implementation": attn_implementation} if attn_implementation else {}
    model = BartForConditionalGeneration.from_pretrained(str(path), **kwargs)
    eps = getattr(model.config, "callinkit_layer_norm_eps", None)
    if eps is not None:
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.eps = eps
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    return model, tokenizer
