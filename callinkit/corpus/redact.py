"""Keep the public proxy corpora out of the repository: find their texts in files, replace each by a reference,
and put them back from ../shared/data when a record is read again.

The data README asks that the proxy corpora be loaded by path and never copied into the project repository (some
are share-alike or ask not to be redistributed). Evaluation outputs and judging records quote the texts they were
run on; before such a file is committed, `redact` replaces every text of a proxy corpus in it by a reference
`⟦proxy:<corpus>:<hash>⟧` (the corpus folder and the first 12 hex digits of the SHA-1 of the text's normalised
words), and `restore` turns the references back into the corpus's own text (as the corpus file spells it, which
may differ in case or spacing from a cleaned copy that was redacted).

What counts as a proxy text in a file: a JSON string (or a line of a text file) whose words are exactly those of a
text of at least `MIN_WHOLE_WORDS` words in a proxy corpus, or any run of words inside a longer string that is
exactly a proxy text of at least `MIN_EMBEDDED_WORDS` words. Words are lowercase runs of ASCII letters and digits,
so punctuation, spacing, case and tokenisation ("don 't") do not hide a copy. A model's own output that happens to
equal a corpus text (a copy of its source) counts too: it is the corpus's text.

    python -m callinkit.corpus.redact check  model_cards/judging            # list what is there (exit 1 if any)
    python -m callinkit.corpus.redact redact model_cards/judging/2026-12-06-detox
    python -m callinkit.corpus.redact restore model_cards/judging/2026-12-06-detox/items.jsonl --out /tmp/items.jsonl
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callinkit.errors import DataError

MIN_WHOLE_WORDS = 6
"""A whole string with the words of a corpus text this long is that text (shorter ones, "thank you so much",
and "i don't buy it" are common phrases that anyone, or the rewriter, may write)."""
MIN_EMBEDDED_WORDS = 8
"""Inside a longer string (a judge's prompt, a line of a report) only runs of this many words count."""
SUFFIXES = (".json", ".jsonl", ".txt", ".csv", ".tsv")
"""The files `redact` reads: data and report files. Prose (README.md, model cards) and code may quote a short
example by hand, as a paper does; they are not rewritten."""
PROXY_CORPORA = ("paradetox", "crowdcounter", "davidson", "tydip", "positive_frames", "reddit_counterspeech",
                 "toxic_spans", "politeness_inputs")
"""The folders of ../shared/data (its README), which are also the names of the evaluation slices drawn from them."""
OWN_CORPUS = Path(__file__).resolve().parent / "data"
"""The project's own corpus: texts it shares with a proxy corpus are its own, not copies."""
REF_RE = re.compile(r"⟦proxy:([a-z_]+):([0-9a-f]{12})⟧")
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """The lowercase words of `text`, HTML entities read as what they stand for (the loaders unescape "&amp;")."""
    return _WORD.findall(html.unescape(text).lower())


def text_hash(norm: str) -> str:
    return hashlib.sha1(norm.encode()).hexdigest()[:12]


def proxy_ref(corpus: str, text: str) -> str:
    """The reference that stands for `text` of proxy corpus `corpus` (its folder name under ../shared/data)."""
    return f"⟦proxy:{corpus}:{text_hash(' '.join(words(text)))}⟧"


def redact_examples(examples: dict[str, list[dict[str, Any]]],
                    proxies: Iterable[str] = PROXY_CORPORA) -> dict[str, list[dict[str, Any]]]:
    """Evaluation examples by slice ("crowdcounter:test": [{"text": ...}, ...]) with the `text` of every slice of a
    proxy corpus (the slice name's part before the first colon is in `proxies`) replaced by its reference; for
    files that ship (a bundle's eval.json), where ../shared/data may not be at hand."""
    proxies = set(proxies)
    return {name: [dict(e, text=proxy_ref(name.split(":")[0], e["text"])) if name.split(":")[0] in proxies
                   and isinstance(e.get("text"), str) else e for e in rows]
            for name, rows in examples.items()}


def _cells(path: Path) -> Iterator[str]:
    """Every string of a corpus file (CSV / TSV cells, JSON or JSON-lines strings)."""
    if path.suffix in (".csv", ".tsv"):
        csv.field_size_limit(1 << 30)
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            for row in csv.reader(fh, delimiter="\t" if path.suffix == ".tsv" else ","):
                yield from row
    elif path.suffix in (".json", ".jsonl"):
        raw = path.read_text(encoding="utf-8", errors="replace")
        try:
            docs: list[Any] = [json.loads(raw)]
        except json.JSONDecodeError:
            docs = [json.loads(line) for line in raw.splitlines() if line.strip()]
        for doc in docs:
            yield from _strings(doc)


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


@dataclass
class ProxyTexts:
    """The texts of the proxy corpora under a data folder, indexed by their normalised words."""

    texts: dict[str, tuple[str, str]] = field(default_factory=dict)  # normalised words -> (corpus, raw text)
    by_hash: dict[str, str] = field(default_factory=dict)  # hash -> raw text
    shingles: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # first 8 words -> texts

    @classmethod
    def load(cls, data_dir: str | Path, own: str | Path | None = OWN_CORPUS) -> ProxyTexts:
        """The texts of every corpus under `data_dir`, less those the project's own corpus (`own`, a folder of
        JSON-lines files; None keeps all) also has."""
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise DataError(f"{data_dir}: no such folder; give the proxy corpora's folder (../shared/data beside "
                            "the repository) with --data")
        index = cls()
        for path in sorted(data_dir.rglob("*")):
            if path.suffix not in (".csv", ".tsv", ".json", ".jsonl") or not path.is_file():
                continue
            corpus = path.relative_to(data_dir).parts[0]
            for cell in _cells(path):
                w = words(cell)
                if len(w) < MIN_WHOLE_WORDS:
                    continue
                norm = " ".join(w)
                if norm in index.texts:
                    continue
                index.texts[norm] = (corpus, cell.strip())
                index.by_hash[text_hash(norm)] = cell.strip()
                if len(w) >= MIN_EMBEDDED_WORDS:
                    index.shingles[" ".join(w[:MIN_EMBEDDED_WORDS])].append(norm)
        if not index.texts:
            raise DataError(f"{data_dir}: no corpus text found (expected the CSV / TSV / JSON files of "
                            "../shared/data/README.md)")
        if own is not None:
            index.forget(_strings([json.loads(line) for f in sorted(Path(own).glob("*.jsonl"))
                                   for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]))
        return index

    def forget(self, texts: Iterable[str]) -> None:
        """Drop the corpus texts that `texts` contain: phrases the project's own hand-written corpus shares with a
        proxy corpus ("What the actual fuck is wrong with you") are not copies of it."""
        for text in texts:
            for _, _, norm in self.spans(text):
                self.texts.pop(norm, None)
                first = " ".join(norm.split()[:MIN_EMBEDDED_WORDS])
                if norm in self.shingles.get(first, ()):
                    self.shingles[first].remove(norm)

    def ref(self, norm: str) -> str:
        return proxy_ref(self.texts[norm][0], norm)

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, normalised words) of each proxy text in `text`, left to right, longest first, not overlapping."""
        w = words(text)
        norm = " ".join(w)
        if len(w) >= MIN_WHOLE_WORDS and norm in self.texts:
            return [(0, len(text), norm)]
        if len(w) < MIN_EMBEDDED_WORDS:
            return []
        matches = list(_WORD.finditer(text.lower()))
        found: list[tuple[int, int, str]] = []
        i = 0
        while i <= len(w) - MIN_EMBEDDED_WORDS:
            best = None
            for cand in self.shingles.get(" ".join(w[i:i + MIN_EMBEDDED_WORDS]), ()):
                n = cand.count(" ") + 1
                if " ".join(w[i:i + n]) == cand and (best is None or n > best[1]):
                    best = (cand, n)
            if best is None:
                i += 1
                continue
            found.append((matches[i].start(), matches[i + best[1] - 1].end(), best[0]))
            i += best[1]
        return found

    def redact_text(self, text: str) -> tuple[str, int]:
        """`text` with each proxy text replaced by its reference, and how many were replaced."""
        spans = self.spans(text)
        for start, end, norm in reversed(spans):
            text = text[:start] + self.ref(norm) + text[end:]
        return text, len(spans)

    def restore_text(self, text: str) -> tuple[str, int]:
        missing: list[str] = []

        def put_back(m: re.Match[str]) -> str:
            if m.group(2) not in self.by_hash:
                missing.append(m.group(0))
                return m.group(0)
            return self.by_hash[m.group(2)]

        out, n = REF_RE.subn(put_back, text)
        if missing:
            raise DataError(f"{len(missing)} reference(s) not found in the proxy corpora (first: {missing[0]}); "
                            "is --data the same ../shared/data the file was redacted against?")
        return out, n


def _map_strings(obj: Any, fn: Any) -> tuple[Any, int]:
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, dict):
        total, out = 0, {}
        for k, v in obj.items():
            out[k], n = _map_strings(v, fn)
            total += n
        return out, total
    if isinstance(obj, list):
        total, items = 0, []
        for v in obj:
            v, n = _map_strings(v, fn)
            items.append(v)
            total += n
        return items, total
    return obj, 0


def transform_file(path: Path, fn: Any) -> tuple[str, int]:
    """The file's new text after `fn` (a str -> (str, count) function) ran on each of its strings, and the count.

    JSON is rewritten with the indentation it had (JSON lines one record a line); other files line by line."""
    raw = path.read_text(encoding="utf-8")
    lines_of_json = path.suffix == ".jsonl"
    if path.suffix == ".json":
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            lines_of_json = True  # JSON lines under a .json name (CrowdCounter's own files are)
    if path.suffix == ".json" and not lines_of_json:
        new, n = _map_strings(obj, fn)
        if not n:
            return raw, 0
        second = raw.split("\n", 2)[1] if raw.count("\n") > 1 else ""
        indent = len(second) - len(second.lstrip(" ")) or None
        return json.dumps(new, indent=indent, ensure_ascii=False) + ("\n" if raw.endswith("\n") else ""), n
    total, lines = 0, []
    for line in raw.split("\n"):
        if lines_of_json and line.strip():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}: a line is not valid JSON ({e})") from e
            new, n = _map_strings(obj, fn)
            if n:
                line = json.dumps(new, ensure_ascii=False)
        else:
            line, n = fn(line)
        total += n
        lines.append(line)
    return "\n".join(lines), total


def files_under(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix in SUFFIXES and f.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(f"{p}: no such file or folder")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m callinkit.corpus.redact", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("check", "redact", "restore"))
    parser.add_argument("paths", nargs="+", help="files or folders (folders: their .json/.jsonl/.txt/.csv/.tsv files)")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2].parent / "shared" / "data"),
                        help="the proxy corpora (default: ../shared/data beside the repository)")
    parser.add_argument("--out", help="restore: write the one restored file here instead of in place")
    args = parser.parse_args(argv)
    try:
        files = files_under(args.paths)
        if args.out and (args.command != "restore" or len(files) != 1):
            raise DataError("--out takes one file, with restore")
        index = ProxyTexts.load(args.data)
        total = 0
        for f in files:
            fn = index.restore_text if args.command == "restore" else index.redact_text
            text, n = transform_file(f, fn)
            total += n
            if n and args.command != "check":
                target = Path(args.out) if args.out else f
                tmp = target.with_name(target.name + ".tmp")
                tmp.write_text(text, encoding="utf-8")
                tmp.replace(target)
            if n:
                print(f"{n:5d}  {f}")
        verb = {"check": "found", "redact": "replaced", "restore": "restored"}[args.command]
        print(f"{verb} {total} proxy text(s) in {len(files)} file(s)")
        return 1 if args.command == "check" and total else 0
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
