"""Greedy and beam-search decoding over the rewriter's ONNX graphs, with a KV cache (numpy only).

The logits processors mirror transformers' RepetitionPenaltyLogitsProcessor and
NoRepeatNGramLogitsProcessor, so greedy output is token-identical to `model.generate` on the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DecodeSettings:
    max_new_tokens: int = 64
    num_beams: int = 4
    num_return: int = 1
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    length_penalty: float = 1.0


@dataclass(frozen=True)
class Hypothesis:
    token_ids: list[int]
    """Generated ids without the decoder start and without eos."""
    log_prob: float
    """Sum of the token log-probabilities (after the logits processors)."""
    score: float
    """log_prob / length ** length_penalty, what beams are ranked by."""


class Seq2SeqGraphs:
    """The encoder and decoder sessions of a rewriter bundle and their tensor names."""

    def __init__(self, encoder, decoder, n_layers: int, heads: int, head_dim: int, start_id: int, eos_id: int,
                 pad_id: int) -> None:
        self.encoder, self.decoder = encoder, decoder
        self.n_layers, self.heads, self.head_dim = n_layers, heads, head_dim
        self.start_id, self.eos_id, self.pad_id = start_id, eos_id, pad_id

    def encode(self, ids: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        """Cross-attention K/V per decoder layer ([k0, v0, k1, v1, ...])."""
        out = self.encoder.run(None, {"input_ids": ids, "attention_mask": mask})
        return out[1:]

    def step(self, tokens: np.ndarray, mask: np.ndarray, past: list[np.ndarray],
             cross: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """(last-position logits (rows, vocab), new self-attention past)."""
        feed = {"input_ids": tokens, "encoder_attention_mask": mask}
        for i in range(self.n_layers):
            feed[f"past_key_values.{i}.decoder.key"] = past[2 * i]
            feed[f"past_key_values.{i}.decoder.value"] = past[2 * i + 1]
            feed[f"past_key_values.{i}.encoder.key"] = cross[2 * i]
            feed[f"past_key_values.{i}.encoder.value"] = cross[2 * i + 1]
        out = self.decoder.run(None, feed)
        return out[0][:, -1, :], out[1:]

    def empty_past(self, rows: int) -> list[np.ndarray]:
        return [np.zeros((rows, self.heads, 0, self.head_dim), dtype=np.float32) for _ in range(2 * self.n_layers)]


def apply_repetition_penalty(scores: np.ndarray, history: np.ndarray, penalty: float) -> None:
    """In place: tokens already generated get score*penalty if negative, score/penalty otherwise."""
    if penalty == 1.0:
        return
    rows = np.arange(scores.shape[0])[:, None]
    seen = scores[rows, history]
    scores[rows, history] = np.where(seen < 0, seen * penalty, seen / penalty)


def banned_ngram_tokens(history: list[int], n: int) -> list[int]:
    """Tokens that would repeat an n-gram already in `history` (transformers' rule)."""
    if n <= 0 or len(history) + 1 < n:
        return []
    prefix = tuple(history[len(history) - n + 1:])
    return [history[i + n - 1] for i in range(len(history) - n + 1) if tuple(history[i:i + n - 1]) == prefix]


def process(scores: np.ndarray, histories: list[list[int]], settings: DecodeSettings) -> np.ndarray:
    """Apply the logits processors to a (rows, vocab) score table, in transformers' order."""
    scores = scores.astype(np.float32, copy=True)
    if settings.repetition_penalty != 1.0:
        width = max(len(h) for h in histories)
        # Pad histories with their own first token: repeating an index applies the penalty once.
        table = np.array([h + [h[0]] * (width - len(h)) for h in histories], dtype=np.int64)
        apply_repetition_penalty(scores, table, settings.repetition_penalty)
    if settings.no_repeat_ngram_size:
        for row, history in enumerate(histories):
            banned = banned_ngram_tokens(history, settings.no_repeat_ngram_size)
            if banned:
                scores[row, banned] = -np.inf
    return scores


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return (x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))).astype(np.float32)


def greedy(graphs: Seq2SeqGraphs, ids: np.ndarray, mask: np.ndarray, settings: DecodeSettings) -> list[Hypothesis]:
    """One greedy hypothesis per source row."""
    rows = ids.shape[0]
    cross = graphs.encode(ids, mask)
    past = graphs.empty_past(rows)
    histories = [[graphs.start_id] for _ in range(rows)]
    log_probs = np.zeros(rows)
    done = np.zeros(rows, dtype=bool)
    tokens = np.full((rows, 1), graphs.start_id, dtype=np.int64)
    for _ in range(settings.max_new_tokens):
        logits, past = graphs.step(tokens, mask, past, cross)
        scores = process(logits, histories, settings)
        nxt = scores.argmax(axis=-1)
        lp = log_softmax(scores)[np.arange(rows), nxt]
        for r in range(rows):
            if not done[r]:
                histories[r].append(int(nxt[r]))
                log_probs[r] += float(lp[r])
                done[r] = nxt[r] == graphs.eos_id
        if done.all():
            break
        tokens = np.where(done, graphs.pad_id, nxt)[:, None].astype(np.int64)
    out = []
    for r in range(rows):
        gen = [t for t in histories[r][1:] if t != graphs.eos_id]
        out.append(Hypothesis(gen, float(log_probs[r]), float(log_probs[r]) / max(1, len(gen))))
    return out


def beam_search(graphs: Seq2SeqGraphs, ids: np.ndarray, mask: np.ndarray,
                settings: DecodeSettings) -> list[list[Hypothesis]]:
    """`num_return` best hypotheses per source row, best first (beam search with a KV cache)."""
    k = max(settings.num_beams, settings.num_return)
    batch = ids.shape[0]
    cross = [np.repeat(c, k, axis=0) for c in graphs.encode(ids, mask)]
    mask_k = np.repeat(mask, k, axis=0)
    past = graphs.empty_past(batch * k)
    histories = [[graphs.start_id] for _ in range(batch * k)]
    beam_scores = np.full((batch, k), -np.inf, dtype=np.float64)
    beam_scores[:, 0] = 0.0  # all beams start identical: expand only the first at step one
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    closed = np.zeros(batch, dtype=bool)
    tokens = np.full((batch * k, 1), graphs.start_id, dtype=np.int64)

    def add(b: int, hist: list[int], total: float) -> None:
        gen = hist[1:]
        finished[b].append(Hypothesis(gen, total, total / max(1, len(gen)) ** settings.length_penalty))

    for _ in range(settings.max_new_tokens):
        logits, past = graphs.step(tokens, mask_k, past, cross)
        scores = process(log_softmax(logits), histories, settings).astype(np.float64)
        vocab = scores.shape[1]
        totals = (scores + beam_scores.reshape(-1, 1)).reshape(batch, k * vocab)
        top = np.argsort(-totals, axis=1)[:, : 2 * k]
        new_hist, new_scores, origin, new_tokens = [], np.full((batch, k), -np.inf), [], []
        for b in range(batch):
            chosen = 0
            for rank, flat in enumerate(top[b]):
                total = totals[b, flat]
                if not np.isfinite(total) or chosen == k:
                    break
                beam, token = divmod(int(flat), vocab)
                row = b * k + beam
                if token == graphs.eos_id:
                    if rank < k and not closed[b]:
                        add(b, histories[row], float(total))
                    continue
                new_hist.append(histories[row] + [token])
                new_scores[b, chosen] = total
                origin.append(row)
                new_tokens.append(token)
                chosen += 1
            while chosen < k:  # keep the table rectangular; these rows can never win
                row = b * k
                new_hist.append(histories[row] + [graphs.pad_id])
                origin.append(row)
                new_tokens.append(graphs.pad_id)
                chosen += 1
            if len(finished[b]) >= k:
                closed[b] = True
        if closed.all():
            break
        histories, beam_scores = new_hist, new_scores
        past = [p[origin] for p in past]
        tokens = np.asarray(new_tokens, dtype=np.int64)[:, None]
    for b in range(batch):
        if not closed[b]:
            for j in range(k):
                if np.isfinite(beam_scores[b, j]):
                    add(b, histories[b * k + j], float(beam_scores[b, j]))
    return [sorted(f, key=lambda h: h.score, reverse=True)[: settings.num_return] for f in finished]
