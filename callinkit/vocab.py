"""Does a bundle's tokenizer belong to its model? Compare the ids the tokenizer can emit with the rows of
the model's token embedding, read from the ONNX graph itself (torch-free, and without the `onnx` package).

A tokenizer copied from another model loads and runs without complaint: ids past the embedding crash
onnxruntime mid-request ("indices element out of data bounds"), and ids of a smaller, different vocabulary
silently look up the wrong tokens. Both are caught here, when the bundle loads, with one error that names
the file and says what to do. The sha256 checks in bundle.py catch a tokenizer.json changed after export;
this catches one that was already wrong in the manifest (a bundle assembled by hand, a rewritten manifest).
"""

from __future__ import annotations

import json
import mmap
from pathlib import Path
from typing import Any

from callinkit.errors import BundleError

# Models may round their embedding up past the tokenizer's last id (to a multiple of 64 or 128, for speed):
# that many spare rows are not a mismatch.
SPARE_ROWS = 512

# The graph whose token embedding the tokenizer feeds, per bundle kind (architecture).
EMBEDDING_GRAPH = {"classifier": "model.onnx", "embedder": "model.onnx", "rewriter": "encoder_model.onnx"}

_checked: dict[tuple[str, int, int, str, int, int], None] = {}  # (tokenizer, size, mtime, graph, size, mtime)


def tokenizer_size(path: Path) -> int | None:
    """One more than the largest id `tokenizer.json` can emit (its vocabulary and added tokens); None when
    the file is not a readable tokenizer (the sha256 check or the tokenizers library then says so)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        vocab = data["model"]["vocab"]
        ids = list(vocab.values()) if isinstance(vocab, dict) else [len(vocab) - 1]  # Unigram: a list of pieces
        ids += [int(t["id"]) for t in data.get("added_tokens") or ()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return max(ids, default=-1) + 1


def _varint(buf: Any, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, i
        shift += 7


def _fields(buf: Any, start: int, end: int):
    """(field number, value) of a protobuf message: ints for varints, (start, end) spans for length-delimited
    fields (nested messages, strings, packed arrays); fixed-width fields are skipped."""
    i = start
    while i < end:
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield number, value
        elif wire == 2:
            size, i = _varint(buf, i)
            yield number, (i, i + size)
            i += size
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _text(buf: Any, span: tuple[int, int]) -> str:
    return bytes(buf[span[0]:span[1]]).decode("utf-8", "replace")


def embedding_rows(graph_path: Path, input_name: str = "input_ids") -> int | None:
    """Rows of the table that `input_name` indexes (a Gather, maybe through a Cast or a DequantizeLinear of
    an int8 table) in the ONNX graph at `graph_path`, read from the initializer's declared shape; None when
    the graph has no such lookup or is not a readable ONNX model (the sha256 check or onnxruntime then says
    so)."""
    try:
        with graph_path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            graph = next((span for number, span in _fields(buf, 0, len(buf)) if number == 7), None)  # ModelProto.graph
            if graph is None:
                return None
            dims: dict[str, list[int]] = {}
            nodes: list[tuple[str, list[str], list[str]]] = []
            for number, span in _fields(buf, *graph):
                if number == 5:  # GraphProto.initializer: TensorProto (1 dims, 8 name)
                    name, shape = "", []
                    for field, value in _fields(buf, *span):
                        if field == 1:
                            if isinstance(value, tuple):  # packed
                                j = value[0]
                                while j < value[1]:
                                    d, j = _varint(buf, j)
                                    shape.append(d)
                            else:
                                shape.append(value)
                        elif field == 8:
                            name = _text(buf, value)
                    dims[name] = shape
                elif number == 1:  # GraphProto.node: NodeProto (1 input, 2 output, 4 op_type)
                    inputs, outputs, op = [], [], ""
                    for field, value in _fields(buf, *span):
                        if field == 1:
                            inputs.append(_text(buf, value))
                        elif field == 2:
                            outputs.append(_text(buf, value))
                        elif field == 4:
                            op = _text(buf, value)
                    nodes.append((op, inputs, outputs))
    except (OSError, ValueError, IndexError, TypeError):
        return None
    ids = {input_name}
    for op, inputs, outputs in nodes:  # names that carry the ids (nodes are stored in topological order)
        if op == "Cast" and inputs and inputs[0] in ids:
            ids.update(outputs)
    made_by = {out: (op, inputs) for op, inputs, outputs in nodes for out in outputs}
    for op, inputs, _ in nodes:
        if op == "Gather" and len(inputs) == 2 and inputs[1] in ids:
            table = inputs[0]
            if table not in dims and made_by.get(table, ("", []))[0] == "DequantizeLinear":
                table = made_by[table][1][0]
            if dims.get(table):
                return dims[table][0]
    return None


def model_vocab_size(root: Path, manifest: dict[str, Any]) -> tuple[int, str] | None:
    """The number of token ids the bundle's model accepts, and where that was read; None when unknown.

    The ONNX graph's embedding when it has one; else what the model's config records (genai_config.json for
    rewriter v2, whose weights sit in model.onnx.data; config.json otherwise)."""
    kind = str(manifest.get("kind", ""))
    graph = EMBEDDING_GRAPH.get(kind) if manifest.get("architecture") in (None, "seq2seq") else None
    if graph and (root / graph).is_file():
        rows = embedding_rows(root / graph)
        if rows:
            return rows, f"{graph} (its token embedding has {rows:,} rows)"
    for name, keys in (("genai_config.json", ("model", "vocab_size")), ("config.json", ("vocab_size",))):
        try:
            value: Any = json.loads((root / name).read_text(encoding="utf-8"))
            for key in keys:
                value = value[key]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(value, int) and value > 0:
            return value, f"{name} (vocab_size {value:,})"
    return None


def check_tokenizer(root: Path, manifest: dict[str, Any]) -> None:
    """Raise BundleError when `root/tokenizer.json` cannot belong to the bundle's model: it emits ids the
    model has no embedding for, or the model has many more tokens than it. Checked once per file version."""
    tokenizer = root / "tokenizer.json"
    graph = root / EMBEDDING_GRAPH.get(str(manifest.get("kind", "")), "config.json")
    if not tokenizer.is_file():
        return
    t_stat = tokenizer.stat()
    g_stat = graph.stat() if graph.is_file() else None
    key = (str(tokenizer.resolve()), t_stat.st_size, t_stat.st_mtime_ns, str(graph),
           g_stat.st_size if g_stat else 0, g_stat.st_mtime_ns if g_stat else 0)
    if key in _checked:
        return
    found = model_vocab_size(root, manifest)
    if found is not None:
        model_size, source = found
        size = tokenizer_size(tokenizer)
        if size is not None and (size > model_size or model_size > size + SPARE_ROWS):
            raise BundleError(
                f"{tokenizer} does not belong to this bundle's model: it has {size:,} token ids but the model "
                f"takes {model_size:,}, per {source}; it is another model's tokenizer. Copy tokenizer.json "
                "from the run the model was exported from, or re-export the bundle with "
                "`callinkit export`")
    _checked[key] = None
