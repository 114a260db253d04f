"""Text handling around the uncased rewriter, shared by training, the PyTorch path and the ONNX path.

The base vocabulary is uncased WordPiece: it lowercases everything and maps emoji and many symbols to
[UNK]. So, before encoding, `protect()` swaps the spans that must come back exactly as written
(@mentions, #hashtags, URLs, emoji and other symbols) for placeholder tokens from BERT's [unused*] range;
after decoding, `detokenize()` repairs WordPiece spacing ("don ' t" -> "don't"), `restore()` puts the
spans back, and `restore_case()` brings back the source's casing (names, acronyms), "I", and sentence
starts.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

PLACEHOLDER = "[unused{}]"
MAX_PLACEHOLDERS = 20
PLACEHOLDER_RE = re.compile(r"\[unused(\d+)\]")

_URL = r"(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]"
_MENTION = r"(?<![\w@])@\w+(?:\.\w+)*"
_HASHTAG = r"(?<![\w#&])#\w+(?:-\w+)*"  # Slack / Discord channels have hyphens
SPAN_RE = re.compile(f"{_URL}|{_MENTION}|{_HASHTAG}")


def _is_symbol(ch: str) -> bool:
    """Characters the uncased vocabulary cannot hold: emoji, pictographs, other symbols, joiners."""
    if ch in "\u200d\ufe0f\ufe0e":
        return True
    cat = unicodedata.category(ch)
    return cat in ("So", "Sk", "Cs", "Co") or (cat == "Sm" and ord(ch) > 0x2000) or 0x1F000 <= ord(ch) <= 0x1FAFF


@dataclass
class Protected:
    """A text with its protected spans replaced by placeholders, and the spans in placeholder order."""

    text: str
    spans: list[str] = field(default_factory=list)


def protect(text: str, spans: list[str] | None = None) -> Protected:
    """Replace @mentions, #hashtags, URLs and runs of symbols/emoji with [unusedN] placeholders.

    The same span gets the same placeholder; past MAX_PLACEHOLDERS distinct spans the rest stay as text.
    Pass the source's `spans` when protecting a training target so shared spans share placeholders.
    """
    spans = list(spans or [])
    out: list[str] = []

    def placeholder(span: str) -> str:
        if span in spans:
            return PLACEHOLDER.format(spans.index(span))
        if len(spans) >= MAX_PLACEHOLDERS:
            return span
        spans.append(span)
        return PLACEHOLDER.format(len(spans) - 1)

    pos = 0
    for m in SPAN_RE.finditer(text):
        out.append(_protect_symbols(text[pos:m.start()], placeholder))
        out.append(f" {placeholder(m.group(0))} ")
        pos = m.end()
    out.append(_protect_symbols(text[pos:], placeholder))
    return Protected(re.sub(r"[ \t]+", " ", "".join(out)).strip(), spans)


def _protect_symbols(text: str, placeholder) -> str:
    out, run = [], []
    for ch in text + "\0":
        if ch != "\0" and _is_symbol(ch):
            run.append(ch)
            continue
        if run:
            out.append(f" {placeholder(''.join(run))} ")
            run = []
        if ch != "\0":
            out.append(ch)
    return "".join(out)


def restore(text: str, spans: list[str]) -> str:
    """Put protected spans back; placeholders the source did not have are dropped."""
    def sub(m: re.Match) -> str:
        i = int(m.group(1))
        return spans[i] if i < len(spans) else ""

    return re.sub(r"\s{2,}", " ", PLACEHOLDER_RE.sub(sub, text)).strip()


_CONTRACTION = re.compile(r"(\w) ?' ?(t|s|m|d|ll|re|ve)\b", re.IGNORECASE)


def detokenize(tokens: list[str]) -> str:
    """Join WordPiece tokens into text with natural spacing around punctuation and contractions."""
    words: list[str] = []
    for tok in tokens:
        if tok.startswith("##") and words:
            words[-1] += tok[2:]
        else:
            words.append(tok)
    text = " ".join(words)
    text = re.sub(r" ([.,!?;:%)\]}])", r"\1", text)
    text = re.sub(r"([(\[{$]) ", r"\1", text)
    text = _CONTRACTION.sub(lambda m: f"{m.group(1)}'{m.group(2)}", text)
    text = re.sub(r"(\w) - (\w)", r"\1-\2", text)
    text = re.sub(r"(\w) / (\w)", r"\1/\2", text)
    text = re.sub(r"\" ([^\"]*?) \"", r'"\1"', text)
    text = re.sub(r"` ([^`]*?) `", r"`\1`", text)
    text = re.sub(r"(\d)([:.,]) (\d)", r"\1\2\3", text)  # 7:15, 3.5, 40,000
    return text.strip()


_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_SENTENCE_START = re.compile(r"(^|[.!?]\s+|\n)([a-z])")
_I_FORMS = re.compile(r"\bi(?=$|[\s,.!?;:]|'(?:m|ve|d|ll)\b)")


def restore_case(text: str, source: str) -> str:
    """Restore casing: words cased in the source (names, acronyms) as written there; "I"; sentence starts."""
    cased: dict[str, str] = {}
    words = _WORD.findall(source)
    # In a shouted message capitals carry the shouting, not names: keep none of its all-caps words.
    shouting = sum(w.isupper() for w in words if len(w) > 1) > 0.5 * max(1, sum(len(w) > 1 for w in words))
    for word in words:
        if word == word.lower() or (shouting and word.isupper()):
            continue
        if word[0].isupper() and word[1:] == word[1:].lower() and _starts_sentence(source, word):
            continue
        cased.setdefault(word.lower(), word)
    text = _WORD.sub(lambda m: cased.get(m.group(0), m.group(0)), text)
    text = _I_FORMS.sub("I", text)
    return _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).upper(), text)


def _starts_sentence(source: str, word: str) -> bool:
    """True when every occurrence of `word` in the source opens a sentence (capitalised only for that)."""
    for m in re.finditer(rf"\b{re.escape(word)}\b", source):
        before = source[:m.start()].rstrip()
        if before and before[-1] not in ".!?\n\"'":
            return False
    return True


def postprocess(tokens: list[str], source: str, spans: list[str]) -> str:
    """Decoded WordPiece tokens -> the text a person reads (spacing, spans, casing)."""
    return restore(restore_case(detokenize(tokens), source), spans)
