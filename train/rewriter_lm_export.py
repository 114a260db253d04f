"""Export rewriter v2 (a fine-tuned decoder-only LM) to a torch-free bundle with onnxruntime-genai's builder.

We do not write our own export for this architecture: onnxruntime-genai's model builder
(`python -m onnxruntime_genai.models.builder`) already turns a Hugging Face Llama folder into an ONNX decoder
with a KV cache and the genai_config.json its C++ generator reads, in fp32, int8 or int4 (MatMulNBits, with
the tied embedding and output head stored once). What this module adds, all recorded in the manifest:

  - fp32 check: greedy token ids from the builder's fp32 model equal `transformers.generate` greedy ids on
    fixed sources (the prompt, the stop token and the decoding loop agree with training);
  - int4 of a LoRA run on the GGUF-derived base (`export.exact_base`, `exact_int4.py`): the base weights are
    stored exactly on the GGUF file's own Q4_1 / Q8_0 grids and the adapter in full precision, instead of
    being rounded a second time;
  - quantization gate: the share of quantized greedy rewrites identical to fp32's and their chrF against
    fp32 (refused below `export.min_agreement`);
  - guard threshold: the classifier's P(call_in) that 90% of validation call-in references reach;
  - the bundle: decoder, genai_config.json, tokenizer, prompt, generation defaults, guard settings and the
    reranking classifier. Written atomically.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from callinkit import __version__
from callinkit.bundle import FORMAT_NAME, MANIFEST, atomic_directory, read_manifest, write_json
from callinkit.errors import CallinkitError
from callinkit.lm_prompt import IM_END
from callinkit.train.threat_probe import (
    HATE_PROBE_FILE,
    NO_CONCERN_PROBE_FILE,
    PROBE_FILE,
    REAL_TEXT_LABELS,
    hate_probe,
    no_concern_probe,
    real_text_rows,
    threat_probe,
    write_probe_file,
)

LM_FORMAT_VERSION = 2
CHECK_SOURCES = [
    "you absolute clown, delete this before everyone sees how dumb you are",
    "@maria_k stop spreading that fake CDC stat, educate yourself https://www.cdc.gov/flu",
    "WOW. calling people 'psycho' in the team chat, so professional 🙄 #fail",
    "nobody asked for your opinion on her pronouns, log off",
    "say that again and I'll break your jaw",
    "Bless your heart, Kevin, maybe read the accessibility guide before you post another video without captions.",
    "imagine reposting @lina.draws art without credit and calling it yours lmao",
    "the bus is late again and I'm soaked",
]
GENAI_FILES = ("model.onnx", "model.onnx.data", "genai_config.json", "tokenizer.json", "tokenizer_config.json")


class RewriterExportError(CallinkitError):
    """The exported rewriter disagrees with PyTorch, or quantization cost too much."""


def build_genai(hf_dir: Path, out_dir: Path, precision: str, log: Path, block_size: int = 128,
                algo: str = "default", adapter: Path | None = None) -> float:
    """Run onnxruntime-genai's builder; returns seconds. Its (long) output goes to `log`.

    `adapter`: a PEFT LoRA folder; the builder then makes each adapter its own pair of low-rank MatMuls beside
    the base weights of `hf_dir` instead of folding it into them."""
    cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf_dir), "-o", str(out_dir),
           "-p", precision, "-e", "cpu"]
    # prune_lm_head: the prompt pass computes logits for its last position only (decoding reads no other), not
    # a 49,152-wide row per prompt token: 78-token prompt 268 -> 214 ms on the builder's int4 (2-core AVX2 CPU,
    # `python -m bench.int4_variants`); same greedy text.
    extra = ["prune_lm_head=true"]
    if precision == "int4":
        extra += [f"block_size={block_size}", "accuracy_level=4"]
        if algo != "default":
            extra.append(f"algo_config={algo}")
    if adapter is not None:
        extra.append(f"adapter_path={adapter}")
    if extra:
        cmd += ["--extra_options", *extra]
    started = time.perf_counter()
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(cmd)}\n")
        fh.flush()
        result = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
    if result.returncode != 0 or not (out_dir / "genai_config.json").is_file():
        raise RewriterExportError(f"onnxruntime-genai's builder failed ({precision}); see {log}")
    # The builder's pad token is <|im_end|>, which also appears inside every chat prompt; onnxruntime-genai
    # masks pad tokens, so padding must use a token the prompt never holds (<|endoftext|>, id 0).
    cfg_path = out_dir / "genai_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model"]["pad_token_id"] = 0
    cfg_path.write_text(json.dumps(cfg, indent=4) + "\n")
    return time.perf_counter() - started


def genai_greedy_ids(folder: Path, prompts: list[list[int]], max_new_tokens: int, eos_id: int) -> list[list[int]]:
    import numpy as np
    import onnxruntime_genai as og

    model = og.Model(str(folder))
    out = []
    for ids in prompts:
        params = og.GeneratorParams(model)
        params.set_search_options(max_length=len(ids) + max_new_tokens, do_sample=False)
        gen = og.Generator(model, params)
        gen.append_tokens(np.array([ids], dtype=np.int32))
        while not gen.is_done():
            gen.generate_next_token()
        seq = [int(t) for t in gen.get_sequence(0)[len(ids):]]
        out.append(seq[: seq.index(eos_id)] if eos_id in seq else seq)
    return out


def torch_greedy_ids(model, prompts: list[list[int]], max_new_tokens: int, eos_id: int) -> list[list[int]]:
    import torch

    model.eval()
    out = []
    for ids in prompts:
        with torch.no_grad():
            gen = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos_id,
                                 pad_token_id=0)
        seq = gen[0, len(ids):].tolist()
        out.append(seq[: seq.index(eos_id)] if eos_id in seq else seq)
    return out


def lora_branch_source(run_dir: Path, config, work: Path | None = None) -> tuple[Path, Path] | None:
    """(the base model, the adapter that turns it into the run's final model) for a LoRA run, else None.

    The first stage's adapter sits on the base model (run_info.json's base_model.location). When every stage
    trained its own adapter (e.g. a preference stage after the supervised one), their concatenation is one
    adapter on that same base (written under `work`), so the exact int4 export still stores the base on the
    GGUF file's own grid. Otherwise a later stage's adapter sits on the previous stage's merged `final/`."""
    if not config.model.lora_rank:
        return None
    stage_dirs = [run_dir / "stages" / f"{i}-{s.name}" for i, s in enumerate(config.stages)]
    adapter = stage_dirs[-1] / "adapter"
    if not (adapter / "lora.json").is_file():
        return None
    info = json.loads((run_dir / "run_info.json").read_text()) if (run_dir / "run_info.json").is_file() else {}
    base = Path(str((info.get("base_model") or {}).get("location", ""))).expanduser()
    if len(stage_dirs) > 1:
        adapters = [d / "adapter" for d in stage_dirs]
        if work is not None and all((a / "lora.json").is_file() for a in adapters):
            from callinkit.train.lora import combine_adapters

            adapter = combine_adapters(adapters, work / "adapter_on_base", config.export.lora_max_rank)
        else:
            base = stage_dirs[-2] / "final"
    return (base, adapter) if (base / "config.json").is_file() else None


def choose_min_call_in(classifier_bundle: str, config, quantile: float = 0.10) -> dict[str, Any]:
    """The guard's P(call_in) threshold: the level 90% of validation call-in references reach.

    Pairs whose call-out has no concern (`strategy: no_concern`) are left out: their reference only states a
    disagreement, which the labelling guide calls neutral, so a classifier that learnt the guide gives it a low
    P(call_in) and would drag the quantile, and with it the guard for every other source, down."""
    import numpy as np

    from callinkit.corpus import KINDS, pair_rows, read_records, read_splits
    from callinkit.serve.classifier import Classifier

    rows = [r for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits())
            if r["split"] == "validation" and r.get("strategy") != "no_concern"]
    clf = Classifier.load(classifier_bundle)
    refs = [p.scores["call_in"] for p in clf.predict([r["call_in"] for r in rows])]
    srcs = [p.scores["call_in"] for p in clf.predict([r["call_out"] for r in rows])]
    threshold = float(np.clip(np.quantile(refs, quantile), 0.2, 0.8))
    return {"min_call_in": round(threshold, 3), "chosen_on": f"{len(rows)} corpus validation pairs",
            "rule": f"the {quantile:.0%} quantile of P(call_in) over the call-in references, clipped to [0.2, 0.8]",
            "references_passing": round(float(np.mean(np.array(refs) >= threshold)), 3),
            "call_outs_passing": round(float(np.mean(np.array(srcs) >= threshold)), 3)}


def choose_min_similarity(embedder_dir: Path, quantile: float = 0.10) -> dict[str, Any]:
    """The guard's concern-similarity floor: the embedder cosine between call-out and call-in that 90% of
    validation references reach."""
    import numpy as np

    from callinkit.corpus import KINDS, pair_rows, read_records, read_splits
    from callinkit.serve.embedder import SimilarityEmbedder, concern_similarity

    rows = [r for r in pair_rows({k: read_records(k) for k in KINDS}, read_splits()) if r["split"] == "validation"]
    sims = concern_similarity(SimilarityEmbedder(embedder_dir), [r["call_out"] for r in rows],
                              [r["call_in"] for r in rows])
    floor = float(np.quantile(sims, quantile))
    return {"min_similarity": round(floor, 3),
            "similarity_rule": f"the {quantile:.0%} quantile of the embedder cosine between call-out and reference "
                               f"call-in over {len(rows)} corpus validation pairs"}


def export_rewriter_lm(run_dir: Path, out_dir: Path, precision: str | None = None,
                       classifier_bundle: str | None = None, overwrite: bool = False,
                       extra_sources: list[str] | None = None, min_agreement: float | None = None,
                       with_embedder: bool = True, embedder_base: str = "minilm") -> dict[str, Any]:
    """Export `run_dir/best` (a rewriter_lm run) to a v2 rewriter bundle in `out_dir`; returns the manifest."""
    import yaml
    from sacrebleu.metrics import CHRF
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from callinkit.config import config_from_dict
    from callinkit.train.export import sha256
    from callinkit.train.rewriter_lm import system_prompt

    best = run_dir / "best"
    if not (best / "config.json").is_file():
        raise CallinkitError(f"{run_dir} has no trained rewriter in best/; run `callinkit train` first")
    config = config_from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()), str(run_dir / "config.yaml"))
    precision = precision or config.export.precision
    classifier_bundle = classifier_bundle or config.export.classifier_bundle
    if classifier_bundle:
        read_manifest(classifier_bundle, kind="classifier")
    tokenizer = AutoTokenizer.from_pretrained(best)
    model = AutoModelForCausalLM.from_pretrained(best)
    eos_id = tokenizer.convert_tokens_to_ids(IM_END)
    system = system_prompt(config)
    gen = config.generation
    from callinkit.lm_prompt import render_prompt

    sources = CHECK_SOURCES + list(extra_sources or [])
    prompts = [tokenizer(render_prompt(s, None, system), add_special_tokens=False)["input_ids"] for s in sources]
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="callinkit-export-"))
    log = Path(out_dir).parent / f"{Path(out_dir).name}.build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        fp32 = work / "fp32"
        build_genai(best, fp32, "fp32", log)
        want = torch_greedy_ids(model, prompts, gen.max_new_tokens, eos_id)
        got = genai_greedy_ids(fp32, prompts, gen.max_new_tokens, eos_id)
        identical = sum(a == b for a, b in zip(want, got))
        validation: dict[str, Any] = {"check_examples": len(sources), "fp32_greedy_identical_to_generate": identical}
        if identical != len(sources):
            bad = next(i for i, (a, b) in enumerate(zip(want, got)) if a != b)
            raise RewriterExportError(
                f"fp32 onnxruntime-genai greedy output differs from transformers.generate on {len(sources) - identical}"
                f" of {len(sources)} sources (first: {sources[bad]!r}: {tokenizer.decode(want[bad])!r} vs "
                f"{tokenizer.decode(got[bad])!r})")
        built = fp32
        branch = (lora_branch_source(run_dir, config, work)
                  if precision != "fp32" and config.export.lora_branch else None)
        if precision != "fp32":
            built = work / precision
            if branch is not None:
                # export.lora_branch: quantize the base weights and keep the adapter as its own low-rank
                # MatMuls (measured against the merged build in the config field's docstring).
                from callinkit.train.lora import ADAPTER_INFO, to_peft

                base_folder, adapter = branch
                adapter_info = json.loads((adapter / ADAPTER_INFO).read_text())
                if "truncated_from_rank" in adapter_info:  # export.lora_max_rank
                    validation["lora_rank_truncated"] = {k: adapter_info[k] for k in
                                                         ("truncated_from_rank", "rank", "min_share_kept")}
                build_genai(base_folder, built, precision, log, block_size=config.export.int4_block_size,
                            algo=config.export.int4_algo, adapter=to_peft(adapter, work / "peft", str(base_folder)))
                if precision == "int4" and config.export.exact_base:
                    from callinkit.train.exact_int4 import load_base_and_adapter, rewrite_exact

                    base_weights, adapter_weights, scale = load_base_and_adapter(base_folder, adapter)
                    exact = rewrite_exact(built / "model.onnx", base_weights, adapter_weights, scale,
                                          accuracy_level=config.export.exact_accuracy_level,
                                          adapter_bits=config.export.adapter_bits)
                    del base_weights, adapter_weights
                    validation["exact_base"] = exact
            else:
                build_genai(best, built, precision, log, block_size=config.export.int4_block_size,
                            algo=config.export.int4_algo)
            q = genai_greedy_ids(built, prompts, gen.max_new_tokens, eos_id)
            same = sum(a == b for a, b in zip(got, q))
            chrf = CHRF().corpus_score([tokenizer.decode(t) for t in q], [[tokenizer.decode(t) for t in got]]).score
            floor = config.export.min_agreement if min_agreement is None else min_agreement
            validation.update({f"{precision}_greedy_identical_to_fp32": same, f"{precision}_chrf_vs_fp32": round(chrf, 1),
                               "min_agreement": floor, "min_chrf_vs_fp32": config.export.min_chrf_vs_fp32,
                               "int4_block_size": config.export.int4_block_size if precision == "int4" else None,
                               "int4_algo": config.export.int4_algo if precision == "int4" else None,
                               "lora_branch": branch is not None})
            if same / len(sources) < floor or chrf < config.export.min_chrf_vs_fp32:
                finer = "--precision int8 (or fp32)" if precision == "int4" else "--precision fp32"
                raise RewriterExportError(
                    f"{precision} greedy text equals fp32's on {same}/{len(sources)} check sources (floor "
                    f"{floor:.0%}) with chrF {chrf:.1f} against fp32 (floor {config.export.min_chrf_vs_fp32:g}); "
                    f"export with {finer}, or lower the floors (--min-agreement, export.min_agreement, "
                    "export.min_chrf_vs_fp32). A LoRA run's int4 keeps the base exact and stays close to fp32 "
                    "(configs/rewriter_lm_lora.yaml); a model trained for only a few steps moves most under "
                    "quantization")
        guard = choose_min_call_in(classifier_bundle, config) if classifier_bundle else {"min_call_in": 0.5}
        guard["abstain_on_threat"] = config.export.abstain_on_threat
        guard["rank_by"] = config.export.rank_by
        if config.export.min_logprob is not None:
            guard["min_logprob"] = config.export.min_logprob
        if config.export.min_logprob_tail is not None:
            guard["min_logprob_tail"] = config.export.min_logprob_tail
        if config.export.detox_min_similarity is not None:
            guard["detox_min_similarity"] = config.export.detox_min_similarity
        if config.export.require_attack:
            guard["require_attack"] = True
        if config.export.deletion_candidate:
            guard["deletion_candidate"] = True
        if config.export.call_in_only_for_call_outs:
            guard["call_in_only_for_call_outs"] = True
        embedder = work / "embedder"
        if with_embedder:
            from callinkit.train.rewriter_export import export_embedder

            export_embedder(embedder, "int8", base=embedder_base)
            guard.update(choose_min_similarity(embedder))
        probe = None
        real, labels = None, config.export.guard_real_text_labels or REAL_TEXT_LABELS
        if with_embedder and config.export.guard_real_text:
            real = real_text_rows(config.export.guard_real_text, labels)
            guard["guard_real_text"] = {"labels": Path(labels).name, "texts": len(real),
                                        "threat_samples": list(config.export.threat_real_text_samples),
                                        "weights": {"threat": config.export.threat_real_text_weight,
                                                    "no_concern": config.export.no_concern_real_text_weight}}
        if with_embedder and config.export.abstain_on_threat and config.export.threat_probe_threshold is not None:
            samples = set(config.export.threat_real_text_samples)
            probe = threat_probe(embedder, threshold=config.export.threat_probe_threshold,
                                 real=[r for r in real if r["sample"] in samples] if real else None,
                                 real_weight=config.export.threat_real_text_weight,
                                 ngrams=config.export.threat_probe_ngrams, backstop=config.export.threat_probe_backstop)
            guard["threat_probe"] = PROBE_FILE
            guard["threat_probe_validation"] = probe["validation"]
        nc_probe = None
        if with_embedder and config.export.no_concern_threshold is not None:
            nc_probe = no_concern_probe(embedder, threshold=config.export.no_concern_threshold, real=real,
                                        real_weight=config.export.no_concern_real_text_weight)
            guard["no_concern_probe"] = NO_CONCERN_PROBE_FILE
            guard["no_concern_probe_validation"] = nc_probe["validation"]
        h_probe = None
        if with_embedder and config.export.hate_probe_threshold is not None:
            h_probe = hate_probe(embedder, config.export.hate_probe_data, threshold=config.export.hate_probe_threshold)
            guard["hate_probe"] = HATE_PROBE_FILE
            guard["hate_probe_fitted_on"] = h_probe["fitted_on"]
        with atomic_directory(out_dir, overwrite=overwrite) as tmp:
            for name in GENAI_FILES:
                if (built / name).is_file():
                    shutil.copy(built / name, tmp / name)
            shutil.copy(run_dir / "config.yaml", tmp / "training_config.yaml")
            info = json.loads((run_dir / "run_info.json").read_text()) if (run_dir / "run_info.json").is_file() else {}
            if classifier_bundle:
                shutil.copytree(classifier_bundle, tmp / "classifier")
            if with_embedder:
                shutil.copytree(embedder, tmp / "embedder")
            if probe is not None:
                write_probe_file(tmp, PROBE_FILE, probe)
            if nc_probe is not None:
                write_probe_file(tmp, NO_CONCERN_PROBE_FILE, nc_probe)
            if h_probe is not None:
                write_probe_file(tmp, HATE_PROBE_FILE, h_probe)
            manifest = {
                "format": FORMAT_NAME, "format_version": LM_FORMAT_VERSION, "kind": "rewriter",
                "architecture": "decoder_lm", "runtime": "onnxruntime-genai", "name": config.name,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "callinkit_version": __version__,
                "precision": precision, "prompt": {"template": "chatml", "system": system},
                "eos_token_id": eos_id, "max_prompt_tokens": config.model.max_length,
                "generation": {"num_candidates": gen.num_candidates, "max_new_tokens": gen.max_new_tokens,
                               "temperature": gen.temperature, "top_p": gen.top_p,
                               "repetition_penalty": gen.repetition_penalty, "copy_boost": gen.copy_boost,
                               "copy_quotes": gen.copy_quotes},
                "guard": guard,
                "reranking": {"classifier": "classifier/" if classifier_bundle else None,
                              "embedder": "embedder/" if with_embedder else None,
                              "similarity": "embedding" if with_embedder else "chrf"},
                "base_model": info.get("base_model"), "training": info.get("stages"), "validation": validation,
                "export_seconds": round(time.perf_counter() - started, 1),
            }
            manifest["files"] = {p.name: sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
            write_json(tmp / MANIFEST, manifest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return manifest
