"""Export a trained rewriter to ONNX: an encoder and one decoder graph with a KV cache.

Layout (optimum's file and tensor names, where the graphs mean the same thing):

  encoder_model.onnx          input_ids, attention_mask
                              -> last_hidden_state, present.{i}.encoder.key/value (cross-attention K/V,
                                 computed once per source instead of at every decoding step)
  decoder_model_merged.onnx   input_ids, encoder_attention_mask, past_key_values.{i}.decoder.key/value,
                              past_key_values.{i}.encoder.key/value
                              -> logits, present.{i}.decoder.key/value

The decoder graph is the with-past decoder; the first step feeds an empty (length 0) self-attention past,
so one graph serves every step (optimum's merged decoder switches with an If node and a
`use_cache_branch` input instead). Each weight lives in one file: cross-attention K/V projections only in
the encoder graph, everything else of the decoder only in the decoder graph (the word embeddings, which
both sides read, are in both).

The graphs are traced from small modules written over the BART weights, not from transformers' own
forward: plain tensor code exports cleanly with dynamic batch / length / past axes. Parity tests compare
them with BartForConditionalGeneration.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from callinkit.train.export import onnx_export

ENCODER_FILE = "encoder_model.onnx"
DECODER_FILE = "decoder_model_merged.onnx"


def _torch():
    import torch

    return torch


def build_export_modules(model):
    """(encoder module, decoder-step module) over a BartForConditionalGeneration's weights."""
    torch = _torch()
    nn = torch.nn
    cfg = model.config
    heads = cfg.decoder_attention_heads
    head_dim = cfg.d_model // heads
    scaling = head_dim ** -0.5
    offset = 2  # BART's learned positions start at row 2

    def split_heads(x):  # (B, T, D) -> (B, H, T, Dh)
        b, t, _ = x.shape
        return x.view(b, t, heads, head_dim).transpose(1, 2)

    def merge_heads(x):  # (B, H, T, Dh) -> (B, T, D)
        b, _, t, _ = x.shape
        return x.transpose(1, 2).reshape(b, t, heads * head_dim)

    def attend(q, k, v, bias):
        scores = torch.matmul(q * scaling, k.transpose(-1, -2)) + bias
        return torch.matmul(torch.softmax(scores, dim=-1), v)

    act = nn.functional.gelu

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = model.model.encoder
            self.cross = nn.ModuleList([layer.encoder_attn for layer in model.model.decoder.layers])

        def forward(self, input_ids, attention_mask):
            enc = self.enc
            t = input_ids.shape[1]
            positions = torch.arange(t, device=input_ids.device) + offset
            x = enc.embed_tokens(input_ids) * getattr(enc.embed_tokens, "embed_scale", 1.0)
            x = enc.layernorm_embedding(x + enc.embed_positions.weight[positions])
            bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
            for layer in enc.layers:
                a = layer.self_attn
                h = attend(split_heads(a.q_proj(x)), split_heads(a.k_proj(x)), split_heads(a.v_proj(x)), bias)
                x = layer.self_attn_layer_norm(x + a.out_proj(merge_heads(h)))
                x = layer.final_layer_norm(x + layer.fc2(act(layer.fc1(x))))
            cross = []
            for attn in self.cross:
                cross += [split_heads(attn.k_proj(x)), split_heads(attn.v_proj(x))]
            return (x, *cross)

    class DecoderStep(nn.Module):
        def __init__(self):
            super().__init__()
            self.dec = model.model.decoder
            self.lm_head = model.lm_head
            self.register_buffer("final_logits_bias", model.final_logits_bias.detach().clone())

        def forward(self, input_ids, encoder_attention_mask, *past):
            dec = self.dec
            n = len(dec.layers)
            self_past, cross_kv = past[: 2 * n], past[2 * n:]
            p = self_past[0].shape[2]
            t = input_ids.shape[1]
            positions = torch.arange(t, device=input_ids.device) + p
            x = dec.embed_tokens(input_ids) * getattr(dec.embed_tokens, "embed_scale", 1.0)
            x = dec.layernorm_embedding(x + dec.embed_positions.weight[positions + offset])
            keys = torch.arange(p + t, device=input_ids.device)
            causal = (keys[None, :] > positions[:, None]).to(x.dtype) * torch.finfo(x.dtype).min
            cross_bias = (1.0 - encoder_attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
            present = []
            for i, layer in enumerate(dec.layers):
                a = layer.self_attn
                k = torch.cat([self_past[2 * i], split_heads(a.k_proj(x))], dim=2)
                v = torch.cat([self_past[2 * i + 1], split_heads(a.v_proj(x))], dim=2)
                present += [k, v]
                h = attend(split_heads(a.q_proj(x)), k, v, causal)
                x = layer.self_attn_layer_norm(x + a.out_proj(merge_heads(h)))
                c = layer.encoder_attn
                h = attend(split_heads(c.q_proj(x)), cross_kv[2 * i], cross_kv[2 * i + 1], cross_bias)
                x = layer.encoder_attn_layer_norm(x + c.out_proj(merge_heads(h)))
                x = layer.final_layer_norm(x + layer.fc2(act(layer.fc1(x))))
            logits = self.lm_head(x) + self.final_logits_bias
            return (logits, *present)

    return Encoder().eval(), DecoderStep().eval()


def io_names(n_layers: int) -> dict[str, list[str]]:
    enc_cross = [f"present.{i}.encoder.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    past_self = [f"past_key_values.{i}.decoder.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    past_cross = [f"past_key_values.{i}.encoder.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    present = [f"present.{i}.decoder.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    return {
        "encoder_inputs": ["input_ids", "attention_mask"],
        "encoder_outputs": ["last_hidden_state", *enc_cross],
        "decoder_inputs": ["input_ids", "encoder_attention_mask", *past_self, *past_cross],
        "decoder_outputs": ["logits", *present],
    }


def export_rewriter_graphs(model, out_dir: Path, opset: int) -> dict[str, list[str]]:
    """Write encoder_model.onnx and decoder_model_merged.onnx for `model` into `out_dir`."""
    torch = _torch()
    encoder, decoder = build_export_modules(model)
    n = model.config.decoder_layers
    names = io_names(n)
    ids = torch.tensor([[101, 7592, 2088, 1010, 2129, 102], [101, 2009, 102, 0, 0, 0]])
    mask = (ids != 0).long()
    batch, src = torch.export.Dim("batch"), torch.export.Dim("source")
    onnx_export(encoder, (ids, mask), str(out_dir / ENCODER_FILE), input_names=names["encoder_inputs"],
                      output_names=names["encoder_outputs"], dynamo=True, opset_version=opset,
                      external_data=False, verbose=False,
                      dynamic_shapes={"input_ids": {0: batch, 1: src}, "attention_mask": {0: batch, 1: src}})
    with torch.no_grad():
        _, *cross = encoder(ids, mask)
    heads, head_dim = model.config.decoder_attention_heads, model.config.d_model // model.config.decoder_attention_heads
    past_len = 3
    self_past = [torch.zeros(2, heads, past_len, head_dim) for _ in range(2 * n)]
    step = torch.tensor([[2023, 2003], [2009, 1012]])
    past_dim, step_dim = torch.export.Dim("past", min=0), torch.export.Dim("step")
    dyn = [{0: batch, 1: step_dim}, {0: batch, 1: src}]
    dyn += [{0: batch, 2: past_dim} for _ in range(2 * n)]
    dyn += [{0: batch, 2: src} for _ in range(2 * n)]
    onnx_export(decoder, (step, mask, *self_past, *cross), str(out_dir / DECODER_FILE),
                      input_names=names["decoder_inputs"], output_names=names["decoder_outputs"], dynamo=True,
                      opset_version=opset, external_data=False, verbose=False,
                      dynamic_shapes=(dyn[0], dyn[1], tuple(dyn[2:])))  # *past is one varargs entry
    return names


def reference_logits(model, ids: np.ndarray, mask: np.ndarray, decoder_ids: np.ndarray) -> np.ndarray:
    """Teacher-forced logits from transformers' own BART forward (for parity checks)."""
    torch = _torch()
    with torch.no_grad():
        out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                    decoder_input_ids=torch.from_numpy(decoder_ids), use_cache=False)
    return out.logits.numpy()


# Fixed sources for export checks: call-outs of several styles, protected spans, a neutral text.
CHECK_SOURCES = [
    "you absolute clown, delete this before everyone sees how dumb you are",
    "@maria_k stop spreading that fake CDC stat, educate yourself https://www.cdc.gov/flu",
    "WOW. calling people 'psycho' in the team chat, so professional 🙄 #fail",
    "nobody asked for your opinion on her pronouns, log off",
    "imagine reposting @lina.draws art without credit and calling it yours lmao",
    "the bus is late again and I'm soaked",
    "Bless your heart, Kevin, maybe read the accessibility guide before you post another video without captions.",
    "I think the new zoning policy will raise rents.",
]


def export_embedder(out_dir: Path, quantize: str, opset: int = 18, max_length: int = 128, base: str = "minilm") -> dict:
    """The concern-similarity embedder (all-MiniLM-L6-v2, mean pooling, normalised) as its own bundle.

    `base` is another BERT checkpoint to pool instead (tests use a tiny one)."""
    torch = _torch()
    from transformers import AutoModel, AutoTokenizer

    from callinkit import __version__
    from callinkit.bundle import BASE_FORMAT_VERSION as FORMAT_VERSION
    from callinkit.bundle import FORMAT_NAME, MANIFEST, write_json
    from callinkit.train.base_model import resolve_base_model
    from callinkit.train.embedding import MiniLMEmbedder
    from callinkit.train.export import quantize_int8, sha256

    base = resolve_base_model(base)
    bert = AutoModel.from_pretrained(base.location, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(base.location)

    class MeanPooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    out_dir.mkdir(parents=True, exist_ok=True)
    enc = tokenizer(CHECK_SOURCES[:2], padding=True, return_tensors="pt", return_token_type_ids=False)
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("sequence")
    path = out_dir / "model.onnx"
    onnx_export(MeanPooled().eval(), (enc["input_ids"], enc["attention_mask"]), str(path),
                      input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
                      dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
                      dynamo=True, opset_version=opset, external_data=False, verbose=False)
    if quantize == "int8":
        q = out_dir / "model.int8.onnx"
        quantize_int8(path, q)
        q.replace(path)
    tokenizer.save_pretrained(out_dir)
    import onnxruntime as ort

    feed = tokenizer(CHECK_SOURCES, padding=True, return_tensors="np", return_token_type_ids=False)
    got = ort.InferenceSession(str(path)).run(None, {k: v.astype(np.int64) for k, v in feed.items()})[0]
    want = MiniLMEmbedder(base.location).encode(CHECK_SOURCES)
    cos = (got * want).sum(1)
    manifest = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": "embedder",
                "name": f"{base.name} mean pooling", "callinkit_version": __version__,
                "base_model": base.provenance(), "dim": int(want.shape[1]), "max_length": max_length,
                "quantization": quantize,
                "validation": {"min_cosine_to_pytorch": float(cos.min()), "check_examples": len(CHECK_SOURCES)}}
    if cos.min() < 0.98:
        raise ValueError(f"embedder export disagrees with PyTorch: min cosine {cos.min():.4f} < 0.98")
    manifest["files"] = {p.name: sha256(p) for p in sorted(out_dir.iterdir()) if p.is_file()}
    write_json(out_dir / MANIFEST, manifest)
    return manifest


SHARED_WEIGHTS_FILE = "shared_weights.bin"


def share_initializers(models: list[Path], store_name: str = SHARED_WEIGHTS_FILE, min_bytes: int = 1 << 20) -> int:
    """Store weights that several graphs hold byte for byte (the tied word embeddings of the encoder and the
    decoder) once, as ONNX external data in `store_name` beside the graphs; returns the bytes saved.

    The graphs keep working unchanged (onnxruntime reads external data relative to the model file); only the
    bundle gets smaller. Graphs with nothing in common are left as they are."""
    import hashlib
    import os

    import onnx
    from onnx.external_data_helper import set_external_data

    loaded = [onnx.load(str(p), load_external_data=False) for p in models]
    groups: dict[str, list] = {}
    for model in loaded:
        for tensor in model.graph.initializer:
            if tensor.HasField("raw_data") and len(tensor.raw_data) >= min_bytes:
                key = f"{tensor.data_type}:{list(tensor.dims)}:{hashlib.sha256(tensor.raw_data).hexdigest()}"
                groups.setdefault(key, []).append(tensor)
    shared = [tensors for tensors in groups.values() if len(tensors) > 1]
    if not shared:
        return 0
    folder = models[0].parent
    saved, offset = 0, 0
    with (folder / store_name).open("wb") as fh:
        for tensors in shared:
            data = tensors[0].raw_data
            pad = (-offset) % 4096  # page-aligned, so onnxruntime can map it
            fh.write(b"\0" * pad)
            offset += pad
            fh.write(data)
            for tensor in tensors:
                set_external_data(tensor, location=store_name, offset=offset, length=len(data))
                tensor.data_location = onnx.TensorProto.EXTERNAL
                tensor.ClearField("raw_data")
            offset += len(data)
            saved += len(data) * (len(tensors) - 1)
    for model, path in zip(loaded, models):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(model.SerializeToString())
        os.replace(tmp, path)
    return saved
