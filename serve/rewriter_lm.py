"""Rewriter v2, torch-free: a fine-tuned SmolLM2 decoder run by onnxruntime-genai.

onnxruntime-genai owns the decoding loop (KV cache, greedy, beam and sampling, CPU and CUDA); this module
renders the prompt (`callinkit.lm_prompt`, the same string training used), asks for candidates, and hands
them to the guard and reranker that every rewriter shares (`callinkit.serve.rewriter.select`).

Candidates: the greedy rewrite plus `num_candidates - 1` sampled ones (one batched generator call, seeded
per text so the same input gives the same output), or `num_candidates` beams with `strategy="beam"`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import queue
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from callinkit.bundle import read_manifest
from callinkit.errors import BundleError, CallinkitError
from callinkit.guard import THREAT_RE, Problem, attack_terms, known_words, without_profanity
from callinkit.lm_prompt import prompt_prefix, render_prompt
from callinkit.serve.classifier import Classifier, _check_texts
from callinkit.serve.embedder import probe_probability
from callinkit.serve.rewriter import Rewrite, check_min_logprob, reranking_models, select
from callinkit.serve.runtime import Device, resolve_bundle

# Greedy decoding keeps up to this many generators that have already read the prompt's fixed prefix (the
# system turn and the user header: 40 of the 78 tokens of a 25-word call-out); see LMRewriter._prefixed.
PREFIX_GENERATORS = 2

_OPEN_SINGLE_QUOTE = re.compile(r"(?:^|[\s(])'(?=\w)")
_CLOSE_SINGLE_QUOTE = re.compile(r"\w'(?=[\s.,!?;:)]|$)")


def inside_quote(text: str) -> bool:
    """Whether `text` ends inside a quotation it opened ("...", “...” or '...')."""
    if text.count('"') % 2 or text.count("\u201c") > text.count("\u201d"):
        return True
    opened = list(_OPEN_SINGLE_QUOTE.finditer(text))
    return bool(opened) and not _CLOSE_SINGLE_QUOTE.search(text[opened[-1].end():])


def copy_targets(generated: Sequence[int], source: Sequence[int], starts_word: np.ndarray, quoted: bool = False,
                 max_match: int = 8) -> set[int]:
    """Source tokens that would continue what was generated the way the source writes it.

    The longest suffix of `generated` (up to `max_match` tokens) that occurs in `source` is found; each of its
    occurrences proposes the source's next token when that token continues a word (a name or quoted word being
    spelt), or, inside a quotation, any next token once two or more tokens match (the quote is copied as
    written). The decoder adds `copy_boost` to these tokens' logits: the model still chooses, but a name or a
    quote it has started is finished as the source spells it."""
    for n in range(min(len(generated), max_match), 0, -1):
        suffix = list(generated[-n:])
        found = {source[p] for p in range(n, len(source)) if list(source[p - n:p]) == suffix
                 and (not starts_word[source[p]] or (quoted and n >= 2))}
        if found:
            return found
    return set()


def token_logprobs(logits: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """log-softmax of each row of `logits` (rows x vocabulary) at that row's token: the model's own
    log-probability of the token it chose (decoding) or was fed (`LMRewriter.logprob`)."""
    top = logits.max(axis=-1)
    lse = np.log(np.exp(logits - top[:, None]).sum(axis=-1)) + top
    return logits[np.arange(len(tokens)), tokens] - lse


TAIL_TOKENS = 5
"""How many of a candidate's least likely tokens its tail log-probability averages (`tail_logprob`)."""


def token_scores(logprobs: Sequence[float]) -> dict[str, float]:
    """A candidate's fluency scores from its token log-probabilities: their mean (`logprob`) and `logprob_tail`."""
    return {"logprob": float(np.mean(logprobs)), "logprob_tail": tail_logprob(logprobs)}


def tail_logprob(logprobs: Sequence[float]) -> float | None:
    """The mean of a candidate's TAIL_TOKENS lowest token log-probabilities (all of them when it has fewer), or
    None for none: where the mean of all tokens lets one garbled or invented stretch hide among well-formed
    words, the tail reads it (session 28's lead, model_cards/judging/2026-12-08-floor/token_tail.py)."""
    if not len(logprobs):
        return None
    return float(np.sort(np.asarray(logprobs, dtype=np.float64))[:TAIL_TOKENS].mean())


def _import_genai():
    try:
        import onnxruntime_genai as og
    except ImportError:
        raise CallinkitError("rewriter v2 bundles run on onnxruntime-genai, which is not installed: "
                             "pip install onnxruntime-genai (it is part of callinkit's base install)") from None
    return og


class LMRewriter:
    """Rewrites call-outs as call-ins with a `decoder_lm` rewriter bundle."""

    def __init__(self, bundle_dir: str | os.PathLike[str], device: Device = "cpu", classifier: Classifier | None = None,
                 threads: int | None = None, min_logprob: float | None = None,
                 min_logprob_tail: float | None = None) -> None:
        from tokenizers import Tokenizer


        og = _import_genai()
        self.bundle_dir = Path(bundle_dir)
        self.manifest = m = read_manifest(self.bundle_dir, kind="rewriter")
        if m.get("architecture") != "decoder_lm":
            raise BundleError(f"{self.bundle_dir} is a {m.get('architecture', 'seq2seq')!r} rewriter bundle; load it "
                              "with Rewriter.load(), which picks the right runtime")
        self.device = device
        config = og.Config(str(self.bundle_dir))
        config.clear_providers()
        if device == "cuda":
            config.append_provider("cuda")
        elif device != "cpu":
            raise CallinkitError(f"device must be 'cpu' or 'cuda', got {device!r}")
        if threads:
            config.overlay(json.dumps({"model": {"decoder": {"session_options": {"intra_op_num_threads": int(threads)}}}}))
        try:
            self.model = og.Model(config)
        except RuntimeError as exc:
            hint = (" (device='cuda' needs the onnxruntime-genai-cuda package and a GPU)" if device == "cuda" else "")
            raise BundleError(f"onnxruntime-genai could not load {self.bundle_dir}: {exc}{hint}") from None
        self.tokenizer = Tokenizer.from_file(str(self.bundle_dir / "tokenizer.json"))
        self.system = m["prompt"]["system"]
        self.eos_id = int(m["eos_token_id"])
        self.max_prompt_tokens = int(m.get("max_prompt_tokens", 256))
        self.generation: dict[str, Any] = dict(m["generation"])
        # Copy boost (see copy_targets): added to the logits of source tokens that finish a word or quote the
        # way the source writes it. 0 (older bundles) decodes as the model alone would.
        self.copy_boost = float(self.generation.get("copy_boost", 0.0))
        self.copy_quotes = bool(self.generation.get("copy_quotes", False))
        guard = m.get("guard") or {}
        self.min_call_in = float(guard.get("min_call_in", 0.5))
        floor = guard.get("min_similarity")
        self.min_similarity = None if floor is None else float(floor)
        # Threat sources: the measured model rewrites most of them unfaithfully (a blind judge preferred
        # abstaining), so a bundle may refuse them before generating anything.
        self.abstain_on_threat = bool(guard.get("abstain_on_threat", False))
        # The model's own mean token log-probability of a candidate: below it, the text reads as unlikely to
        # the model itself (garbled, or straying into invention); None when the bundle sets no floor.
        floor = guard.get("min_logprob") if min_logprob is None else check_min_logprob(min_logprob)
        self.min_logprob = None if floor is None else float(floor)
        # The same on the candidate's least likely tokens (tail_logprob); None (the default) sets no such floor.
        floor = guard.get("min_logprob_tail") if min_logprob_tail is None else check_min_logprob(min_logprob_tail,
                                                                                                  "min_logprob_tail")
        self.min_logprob_tail = None if floor is None else float(floor)
        self.rank_by = str(guard.get("rank_by", "score"))
        # The detox path (select()): a neutral candidate that keeps the source's content may be shown when no
        # call-in passes; None (older bundles): only call-ins, or neutral text where the no-concern probe fires.
        floor = guard.get("detox_min_similarity")
        self.detox_min_similarity = None if floor is None else float(floor)
        # Rewrite only what reads as an attack (refusal()); False (older bundles): every message is rewritten.
        self.require_attack = bool(guard.get("require_attack", False))
        # The message without its profanity as one more candidate (without_profanity()); False (older bundles).
        self.deletion_candidate = bool(guard.get("deletion_candidate", False))
        # A call-in only for what the classifier reads as a call-out (select()'s source_p_call_out); False (older
        # bundles): a call-in may be shown for any message.
        self.call_in_only_for_call_outs = bool(guard.get("call_in_only_for_call_outs", False))
        self.classifier, self.embedder = reranking_models(self.bundle_dir, m, device, classifier)
        # The threat probe (train/threat_probe.py): logistic regression on the embedder's sentence embedding,
        # for the threats the patterns miss; used only where the bundle abstains on threats and has an embedder.
        self.threat_probe = self._load_probe(guard.get("threat_probe") if self.abstain_on_threat else None)
        # The no-concern probe (same file): where it fires, a candidate must read as neutral (the disagreement
        # without the attack), since a call-in frame for such a message invents a harm (LABELS.md).
        self.no_concern_probe = self._load_probe(guard.get("no_concern_probe"))
        # The hate probe (train/threat_probe.py hate_probe()): a candidate it reads as a hateful claim about a group
        # of people is not shown; None (older bundles, or an export without `export.hate_probe_threshold`).
        self.hate_probe = self._load_probe(guard.get("hate_probe"))
        known_words()  # the guard's word list, read once from the corpus now rather than on the first request
        self._prefix_ids = self.tokenizer.encode(prompt_prefix(self.system), add_special_tokens=False).ids
        self.prefix_generators = PREFIX_GENERATORS  # 0: every call starts a fresh generator
        self._prefixed_pool: dict[tuple, queue.SimpleQueue] = {}
        self._prefixed_count: dict[tuple, int] = {}
        self._prefixed_lock = threading.Lock()

    @classmethod
    def load(cls, bundle: str | os.PathLike[str] | None = None, device: Device = "cpu",
             classifier: Classifier | None = None, threads: int | None = None,
             min_logprob: float | None = None, min_logprob_tail: float | None = None) -> LMRewriter:
        return cls(resolve_bundle("rewriter", bundle), device=device, classifier=classifier, threads=threads,
                   min_logprob=min_logprob, min_logprob_tail=min_logprob_tail)

    def __repr__(self) -> str:
        return (f"LMRewriter(bundle={str(self.bundle_dir)!r}, base={(self.manifest.get('base_model') or {}).get('name')!r}, "
                f"precision={self.manifest.get('precision')!r}, device={self.device!r})")

    # -- decoding ---------------------------------------------------------------------------------------------

    @functools.cached_property
    def _starts_word(self) -> np.ndarray:
        """Per vocabulary id: whether the token begins a word (GPT-2 style "\u0120"); read once, when the copy
        boost first needs it."""
        return np.array([(self.tokenizer.id_to_token(i) or " ").startswith("\u0120")
                         for i in range(self.tokenizer.get_vocab_size())])

    def prompt_ids(self, text: str, context: str | None = None) -> list[int]:
        ids = self.tokenizer.encode(render_prompt(text, context, self.system), add_special_tokens=False).ids
        if len(ids) > self.max_prompt_tokens:
            tail = self.tokenizer.encode("<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False).ids
            ids = ids[: self.max_prompt_tokens - len(tail)] + tail
        return ids

    def _generate(self, ids: list[int], rows: int, max_new_tokens: int, source_ids: Sequence[int] = (),
                  **search: Any) -> list[tuple[str, dict[str, float]]]:
        """(text, scores) per generated sequence: `logprob`, the mean of the model's own token log-probabilities,
        before sampling settings, repetition penalty and copy boost, of each token chosen and of the closing
        <|im_end|>, and `logprob_tail`, the mean of the lowest TAIL_TOKENS of them: fluency signals the guard
        can use. They are read from the logits the decoder computes anyway (greedy and sampling); beam search
        gives no scores (an empty dict), and decodes without the copy boost."""
        og = _import_genai()
        beams = search.get("num_beams", 1) > 1
        key, generator = self._prefixed(ids, rows, max_new_tokens, search)
        if generator is None:
            params = og.GeneratorParams(self.model)
            params.set_search_options(max_length=len(ids) + max_new_tokens, batch_size=rows, **search)
            generator = og.Generator(self.model, params)
            generator.append_tokens(np.array([ids] * (1 if beams else rows), dtype=np.int32))
        try:
            out = self._decode(generator, ids, rows, max_new_tokens, source_ids, beams, search)
        except BaseException:
            if key is not None:  # a generator that failed mid-way is not reused
                with self._prefixed_lock:
                    self._prefixed_count[key] -= 1
            raise
        if key is not None:
            self._prefixed_pool[key].put(generator)
        return out

    def _prefixed(self, ids: list[int], rows: int, max_new_tokens: int, search: dict[str, Any]) -> tuple[Any, Any]:
        """(pool key, a generator holding the prompt) for one greedy sequence, or (None, None).

        Every prompt starts with the same system turn and user header, so greedy decoding reuses generators
        that have read it once: rewound to the end of that prefix, they read only the message (the KV cache
        of the prefix is what a fresh generator would compute; same tokens out, checked in the tests). Up to
        `prefix_generators` (PREFIX_GENERATORS) per set of search options are kept; sampling several rows or
        beams starts fresh."""
        prefix = self._prefix_ids
        one_greedy_row = rows == 1 and not search.get("do_sample") and search.get("num_beams", 1) <= 1
        if self.prefix_generators < 1 or not one_greedy_row or len(ids) <= len(prefix) or ids[:len(prefix)] != prefix:
            return None, None
        limit = len(prefix) + self.max_prompt_tokens + int(self.generation["max_new_tokens"])
        if len(ids) + max_new_tokens > limit:
            return None, None
        key = tuple(sorted(search.items()))
        with self._prefixed_lock:
            pool = self._prefixed_pool.setdefault(key, queue.SimpleQueue())
            try:
                generator = pool.get_nowait()
            except queue.Empty:
                if self._prefixed_count.get(key, 0) >= self.prefix_generators:
                    return None, None
                self._prefixed_count[key] = self._prefixed_count.get(key, 0) + 1
                generator = None
        try:
            if generator is None:
                og = _import_genai()
                params = og.GeneratorParams(self.model)
                params.set_search_options(max_length=limit, batch_size=1, **search)
                generator = og.Generator(self.model, params)
                generator.append_tokens(np.array([prefix], dtype=np.int32))
            else:
                generator.rewind_to(len(prefix))
            generator.append_tokens(np.array([ids[len(prefix):]], dtype=np.int32))
        except BaseException as exc:
            with self._prefixed_lock:
                self._prefixed_count[key] -= 1
            if isinstance(exc, RuntimeError):  # a runtime that cannot rewind: decode every call afresh
                self.prefix_generators = 0
                return None, None
            raise
        return key, generator

    def _decode(self, generator, ids: list[int], rows: int, max_new_tokens: int, source_ids: Sequence[int],
                beams: bool, search: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
        logprobs: list[list[float]] = [[] for _ in range(rows)]
        generated: list[list[int]] = [[] for _ in range(rows)]
        boost = 0.0 if beams or not source_ids else self.copy_boost
        steps = 0
        while not generator.is_done() and steps < max_new_tokens:
            steps += 1
            raw = None if beams else np.asarray(generator.get_logits(), dtype=np.float32)
            logits = None if raw is None else raw.reshape(rows, -1)
            if boost and generated[0]:
                shifted = None
                for r in range(rows):
                    if self.eos_id in generated[r]:
                        continue
                    quoted = self.copy_quotes and inside_quote(self.tokenizer.decode(generated[r]))
                    targets = copy_targets(generated[r], source_ids, self._starts_word, quoted)
                    if targets:
                        shifted = logits.copy() if shifted is None else shifted
                        shifted[r, sorted(targets)] += boost
                if shifted is not None:
                    generator.set_logits(shifted.reshape(raw.shape))
            generator.generate_next_token()
            if logits is not None:
                chosen = np.asarray(generator.get_next_tokens()).reshape(rows)
                for r, lp in enumerate(token_logprobs(logits, chosen)):
                    logprobs[r].append(float(lp))
                    generated[r].append(int(chosen[r]))
        n_out = search.get("num_return_sequences", 1) * (1 if beams else rows)
        out = []
        for i in range(n_out):
            seq = [int(t) for t in generator.get_sequence(i)[len(ids):]]
            n = seq.index(self.eos_id) + 1 if self.eos_id in seq else len(seq)
            scores = {} if beams or not logprobs[i] else token_scores(logprobs[i][:n])
            out.append((self.tokenizer.decode(seq[:n], skip_special_tokens=True).strip(), scores))
        return out

    def logprob(self, text: str, candidate: str, context: str | None = None) -> float:
        """The model's own mean token log-probability of `candidate` as the rewrite of `text`, read by feeding
        its tokens (and the closing <|im_end|>) one by one: the score `scored_candidates` gives a text the
        model generated, for a text it did not (the guard's deletion candidate)."""
        return float(np.mean(self.candidate_logprobs(text, candidate, context)))

    def candidate_logprobs(self, text: str, candidate: str, context: str | None = None) -> list[float]:
        """The model's own log-probability of each token of `candidate` (as the tokenizer splits it) and of the
        closing <|im_end|>, as the rewrite of `text`, teacher-forced."""
        og = _import_genai()
        ids = self.prompt_ids(text, context)
        target = self.tokenizer.encode(candidate.strip(), add_special_tokens=False).ids + [self.eos_id]
        params = og.GeneratorParams(self.model)
        params.set_search_options(max_length=len(ids) + len(target) + 1, batch_size=1, do_sample=False)
        generator = og.Generator(self.model, params)
        generator.append_tokens(np.array([ids], dtype=np.int32))
        logprobs = []
        for i, token in enumerate(target):
            logits = np.asarray(generator.get_logits(), dtype=np.float32).reshape(1, -1)
            logprobs.append(float(token_logprobs(logits, np.array([token]))[0]))
            if i + 1 < len(target):
                generator.append_tokens(np.array([[token]], dtype=np.int32))
        return logprobs

    def candidates(self, text: str, num_candidates: int = 1, max_new_tokens: int | None = None,
                   context: str | None = None, strategy: str = "sample", seed: int | None = None) -> list[str]:
        """Distinct candidate rewrites of one text, the greedy (or best beam) one first."""
        return list(self.scored_candidates(text, num_candidates, max_new_tokens, context, strategy, seed))

    def scored_candidates(self, text: str, num_candidates: int = 1, max_new_tokens: int | None = None,
                          context: str | None = None, strategy: str = "sample", seed: int | None = None
                          ) -> dict[str, float | None]:
        """Distinct candidate rewrites of one text, the greedy (or best beam) one first, each with the model's
        mean token log-probability of it (None for beam search)."""
        return {t: s.get("logprob") for t, s in self.candidate_scores(text, num_candidates, max_new_tokens, context,
                                                                      strategy, seed).items()}

    def candidate_scores(self, text: str, num_candidates: int = 1, max_new_tokens: int | None = None,
                         context: str | None = None, strategy: str = "sample", seed: int | None = None
                         ) -> dict[str, dict[str, float]]:
        """`scored_candidates()` with every fluency score the decoder reads: `logprob` (the mean token
        log-probability) and `logprob_tail` (the mean of the lowest TAIL_TOKENS); empty for beam search."""
        g = self.generation
        k = int(num_candidates)
        if k < 1:
            raise ValueError("num_candidates must be at least 1")
        max_new = int(max_new_tokens or g["max_new_tokens"])
        ids = self.prompt_ids(text, context)
        source = self.tokenizer.encode(text.strip(), add_special_tokens=False).ids
        rep = float(g.get("repetition_penalty", 1.0))
        if strategy == "beam" and k > 1:
            outs = self._generate(ids, 1, max_new, num_beams=k, num_return_sequences=k, do_sample=False,
                                  repetition_penalty=rep)
        elif strategy in ("sample", "beam"):
            outs = self._generate(ids, 1, max_new, source, do_sample=False, repetition_penalty=rep)
            if k > 1:
                if seed is None:  # the same text always gets the same candidates
                    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big") & 0x7FFFFFFF
                outs += self._generate(ids, k - 1, max_new, source, do_sample=True, top_p=float(g["top_p"]),
                                       temperature=float(g["temperature"]), repetition_penalty=rep, random_seed=seed)
        else:
            raise ValueError(f"strategy must be 'sample' or 'beam', got {strategy!r}")
        found: dict[str, dict[str, float]] = {}
        for out, scores in outs:
            found.setdefault(out, scores)
        return found

    def _load_probe(self, probe_file: str | None) -> dict[str, Any] | None:
        """A probe the manifest's guard names (its weights as an array), or None without one or an embedder."""
        if not probe_file or self.embedder is None:
            return None
        path = self.bundle_dir / probe_file
        if not path.is_file():
            raise BundleError(f"{self.bundle_dir}: the manifest's guard names {probe_file}, which is missing; "
                              "re-export the bundle")
        probe = json.loads(path.read_text())
        probe["weights"] = np.asarray(probe["weights"], dtype=np.float32)
        if probe.get("backstop"):
            probe["backstop"]["weights"] = np.asarray(probe["backstop"]["weights"], dtype=np.float32)
        return probe

    def _probe(self, probe: dict[str, Any] | None, text: str) -> float | None:
        if probe is None or self.embedder is None:
            return None
        return float(probe_probability(probe, self.embedder.encode([text]), [text])[0])

    def threat_probability(self, text: str) -> float | None:
        """The bundle's threat probe's probability that `text` is a threat, or None without a probe."""
        return self._probe(self.threat_probe, text)

    def no_concern_probability(self, text: str) -> float | None:
        """The bundle's no-concern probe's probability that `text` attacks with no concern to keep ("who asked",
        "nah ur just dumb"), or None without a probe."""
        return self._probe(self.no_concern_probe, text)

    def has_no_concern(self, text: str) -> bool:
        p = self.no_concern_probability(text)
        return p is not None and p >= float(self.no_concern_probe["threshold"])

    def refusal(self, text: str) -> Problem | None:
        """Why `text` is not rewritten at all, or None: the bundle's guard abstains on threats (code
        `refused_threat`) and, with `require_attack`, on a message with no attack it can see (`no_attack_found`)."""
        if self.abstain_on_threat:
            tail = ("; a call-in drops it entirely, and this model does not do that reliably yet. Say the concern "
                    "without it, if there is one")
            threat = THREAT_RE.search(text)
            if threat:
                return Problem("refused_threat", f"not rewritten: the message carries a threat ({threat.group(0)!r})"
                               + tail)
            p = self.threat_probability(text)
            if p is not None and p >= float(self.threat_probe["threshold"]):
                return Problem("refused_threat", f"not rewritten: the message reads as a threat (P {p:.2f} by the "
                                                 "bundle's threat probe)" + tail)
        if self.require_attack and self.classifier is not None and not attack_terms(text):
            prediction = self.classifier.predict([text])[0]
            if prediction.label != "call_out":
                return Problem("no_attack_found", f"not rewritten: the classifier reads the message as "
                                                  f"{prediction.label} (P(call_out) {prediction.scores['call_out']:.2f}) "
                                                  "and it has no insult, slur or profanity the guard knows, so there "
                                                  "is no attack to drop")
        return None

    # -- the public API ---------------------------------------------------------------------------------------

    def rewrite(self, texts: Sequence[str], num_candidates: int | None = None, max_new_tokens: int | None = None,
                num_beams: int | None = None, batch_size: int | None = None, contexts: Sequence[str | None] | None = None,
                strategy: str = "sample", guard: bool = True) -> list[Rewrite]:
        """One Rewrite per input text, in order: guarded and reranked, or `ok=False` with the reason.

        num_candidates defaults to the bundle's `generation.num_candidates`; `num_beams` (kept for the release-1
        signature) switches to beam search with that many beams. `guard=False` returns the best candidate by
        score even when it fails the guard (for evaluation only: never show such text to a person).
        """
        texts = _check_texts(texts, "rewrite")
        k = int(num_candidates if num_candidates is not None else self.generation["num_candidates"])
        if num_beams and num_beams > 1:
            strategy, k = "beam", max(k, int(num_beams))
        contexts = list(contexts) if contexts is not None else [None] * len(texts)
        if len(contexts) != len(texts):
            raise ValueError("contexts must have one entry per text")
        return [self.generate_and_select(text, k, max_new_tokens, context, strategy, guard)[1]
                for text, context in zip(texts, contexts)]

    def generate_and_select(self, text: str, num_candidates: int, max_new_tokens: int | None = None,
                            context: str | None = None, strategy: str = "sample", guard: bool = True
                            ) -> tuple[list[str], Rewrite]:
        """The candidates in the order generated (greedy first) and the Rewrite chosen from them: what
        `rewrite()` returns for one text, and what `callinkit eval` scores."""
        refusal = self.refusal(text) if guard else None
        if refusal:
            return [], Rewrite(None, {}, [], ok=False, reason=refusal, reason_codes=(refusal.code,))
        cands = self.candidate_scores(text, num_candidates, max_new_tokens, context, strategy)
        result = self.choose(text, cands, context, guard)
        # the deletion candidate, where choose() added one, comes last
        return list(cands) + [c.text for c in result.candidates if c.scores.get("deletion") and c.text not in cands], result

    def choose(self, text: str, cands: Mapping[str, float | Mapping[str, float] | None], context: str | None = None,
               guard: bool = True, logprob: Callable[[str], float | Sequence[float]] | None = None) -> Rewrite:
        """The Rewrite chosen from a text's candidates (text -> their fluency scores, as `candidate_scores()` gives,
        or the mean token log-probability alone, as `scored_candidates()` gives), the deletion candidate added when
        the bundle asks for it; the source-level refusal is not checked here. `logprob(candidate)` reads the
        model's token log-probabilities of the deletion, or their mean (default: `self.candidate_logprobs`); with
        recorded candidates and scores, the guard can be re-run without decoding again. A candidate with no
        `logprob_tail` score (given as a mean only) is not held to the tail floor."""
        cands = dict(cands)
        scores: list[dict[str, float]] = [dict(v) if isinstance(v, Mapping) else {} if v is None else {"logprob": v}
                                          for v in cands.values()]
        no_concern = guard and self.has_no_concern(text)
        p_call_out = (self.classifier.predict_each([text])[0].scores["call_out"]
                      if guard and self.call_in_only_for_call_outs and self.classifier is not None else None)

        def guarded(texts: list[str], scores: list[dict[str, float]]) -> Rewrite:
            return select(text, texts, scores, self.classifier, self.embedder, self.min_call_in if guard else -1.0,
                          self.min_similarity, context, min_logprob=self.min_logprob if guard else None,
                          min_logprob_tail=self.min_logprob_tail if guard else None, rank_by=self.rank_by,
                          no_concern=no_concern, threat_probe=self.threat_probe,
                          detox_min_similarity=self.detox_min_similarity, source_p_call_out=p_call_out, hate_probe=self.hate_probe)

        deletion = without_profanity(text) if guard and self.deletion_candidate else None
        # Its log-probability costs a teacher-forced pass (about as long as decoding it greedily): read it only
        # when every other check passes (as for 91 of 164 deletions of judged comments), since it is only shown then.
        if deletion is not None and deletion not in cands and guarded([deletion], [{"deletion": 1.0}]).ok:
            lp = (logprob or (lambda c: self.candidate_logprobs(text, c, context)))(deletion)
            cands[deletion] = read = {"logprob": float(lp)} if np.ndim(lp) == 0 else token_scores(lp)
            scores.append({**read, "deletion": 1.0})
        result = guarded(list(cands), scores)
        if not guard and not result.ok and result.candidates:
            best = max(result.candidates, key=lambda c: c.scores.get("score", 0.0))
            result = Rewrite(best.text, best.scores, result.candidates, ok=False, reason=result.reason,
                             reason_codes=result.reason_codes)
        return result

    def rewrite_one(self, text: str, **kwargs: Any) -> Rewrite:
        if not isinstance(text, str):
            raise TypeError(f"rewrite_one() takes a str, got {type(text).__name__}; use rewrite() for a list")
        return self.rewrite([text], **kwargs)[0]
