"""The Open Inference Protocol's binary tensor data extension, and bodies sent without a JSON content type.

Triton and KServe clients (tritonclient.http, kserve.InferenceRESTClient) send tensors as raw bytes by
default: the header `Inference-Header-Content-Length: N` says that the body's first N bytes are the JSON
request, and each input whose parameters hold `binary_data_size` has that many raw bytes after it, in
input order (a BYTES element is a 4-byte little-endian length, then its bytes). They also send no
`Content-Type`, or `application/octet-stream`. `InferRoute` turns every such request into the plain JSON
request the v2 route declares, before FastAPI reads it; `infer_response` encodes the outputs a client asked
for as binary (`parameters.binary_data` on a requested output, else `binary_data_output` on the request)
the same way. Shared memory and the classification extension are refused with a 400.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from fastapi import Request, Response
from fastapi.routing import APIRoute

from callinkit.serve.http.errors import ApiError

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_TYPES = {"FP32": "<f4"}  # the only non-BYTES datatype this server's outputs have


class InferRoute(APIRoute):
    """An APIRoute whose requests reach FastAPI as plain JSON, whatever their content type, compression or
    binary tensors (so the route keeps its declared `InferRequest` body, validation and docs)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle_as_json(request: Request) -> Response:
            return await handler(await as_json_request(request))

        return handle_as_json


async def as_json_request(request: Request) -> Request:
    """The same request with a JSON body and `Content-Type: application/json`. Raises ApiError 400 for a
    malformed binary body, 415 for a compression other than gzip or deflate."""
    limit = request.app.state.settings.max_body_bytes
    body = _decompress(await request.body(), request.headers.get("content-encoding", ""), limit)
    header_length = request.headers.get(HEADER_LENGTH)
    if header_length is not None:
        body = json.dumps(_with_binary_inputs(body, header_length)).encode()
    headers = [(k, v) for k, v in request.scope["headers"]
               if k.lower() not in (b"content-type", b"content-encoding", b"content-length")]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()  # later messages (the disconnect) still come from the client

    return Request({**request.scope, "headers": headers}, receive)


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise ApiError(415, "unsupported_media_type", f"Content-Encoding {encoding!r} is not supported; send "
                                                      "gzip, deflate or an uncompressed body")
    # wbits: 16+ reads a gzip wrapper, plain MAX_WBITS a zlib one (what "deflate" means in HTTP).
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise ApiError(400, "bad_request", f"the body is not valid {encoding} data ({exc})") from None
    if len(out) > limit:  # checked on the inflated size too, or a small body could inflate without bound
        raise ApiError(413, "body_too_large", f"the decompressed body is larger than {limit} bytes")
    if not inflater.eof:
        raise ApiError(400, "bad_request", f"the {encoding} body is truncated")
    return out


def _with_binary_inputs(body: bytes, header_length: str) -> Any:
    """The JSON header of a binary-extension body, each binary input's `data` filled from the bytes after it."""
    if not header_length.strip().isdigit() or int(header_length) > len(body):
        raise ApiError(400, "bad_request", f"{HEADER_LENGTH} must be a byte count within the body's "
                                           f"{len(body)} bytes, got {header_length!r}")
    split = int(header_length)
    try:
        request = json.loads(body[:split])
    except ValueError as exc:
        raise ApiError(400, "bad_request", f"the first {split} bytes ({HEADER_LENGTH}) are not a JSON "
                                           f"inference request: {exc}") from None
    offset = split
    inputs = request.get("inputs") if isinstance(request, dict) else None
    for tensor in inputs if isinstance(inputs, list) else []:
        params = tensor.get("parameters") if isinstance(tensor, dict) else None
        if not isinstance(params, dict):
            continue
        if "shared_memory_region" in params:
            raise ApiError(400, "bad_request", "the shared memory extension is not supported; send the tensor "
                                               "in the request body")
        if "binary_data_size" not in params:
            continue
        name, size = tensor.get("name"), params.pop("binary_data_size")
        if "data" in tensor:
            raise ApiError(400, "bad_request", f"input {name!r} has both data and binary_data_size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0 or offset + size > len(body):
            raise ApiError(400, "bad_request", f"input {name!r}: binary_data_size {size!r} does not fit in the "
                                               f"{len(body) - offset} bytes left in the body")
        if tensor.get("datatype") != "BYTES":
            raise ApiError(400, "bad_request", f"input {name!r}: expected datatype BYTES (texts), got "
                                               f"{tensor.get('datatype')!r}")
        tensor["data"] = decode_bytes_tensor(body[offset:offset + size], name)
        offset += size
    if offset != len(body):
        raise ApiError(400, "bad_request", f"{len(body) - offset} bytes follow the binary inputs that no input's "
                                           "binary_data_size accounts for")
    return request


def decode_bytes_tensor(blob: bytes, name: Any) -> list[str]:
    """A BYTES tensor's elements (each a uint32 little-endian length, then that many UTF-8 bytes) as texts."""
    texts, offset = [], 0
    while offset < len(blob):
        if offset + 4 > len(blob):
            raise ApiError(400, "bad_request", f"input {name!r}: element {len(texts)} is cut inside its 4-byte "
                                               "length prefix")
        (length,) = struct.unpack_from("<I", blob, offset)
        start, offset = offset + 4, offset + 4 + length
        if offset > len(blob):
            raise ApiError(400, "bad_request", f"input {name!r}: element {len(texts)} claims {length} bytes but "
                                               f"only {len(blob) - start} remain")
        try:
            texts.append(blob[start:offset].decode("utf-8"))
        except UnicodeDecodeError:
            raise ApiError(400, "bad_request", f"input {name!r}: element {len(texts)} is not valid UTF-8 "
                                               "text") from None
    return texts


def encode_tensor(datatype: str, data: list[Any]) -> bytes:
    """Row-major tensor data in the binary extension's layout (BYTES length-prefixed; numbers little-endian)."""
    if datatype == "BYTES":
        encoded = [str(item).encode("utf-8") for item in data]
        return b"".join(struct.pack("<I", len(item)) + item for item in encoded)
    return np.asarray(data, dtype=BINARY_TYPES[datatype]).tobytes()


def binary_output_names(outputs: list[Any] | None, parameters: dict[str, Any] | None,
                        available: set[str]) -> set[str]:
    """The outputs to send as binary: a requested output's own `binary_data` decides; otherwise the request's
    `binary_data_output`. Raises ApiError 400 for the classification or shared memory extensions."""
    default = (parameters or {}).get("binary_data_output", False)
    if not isinstance(default, bool):
        raise ApiError(400, "bad_request", f"parameter binary_data_output must be true or false, got {default!r}")
    if not outputs:
        return set(available) if default else set()
    binary = set()
    for output in outputs:
        params = output.parameters or {}
        if params.get("classification") or params.get("class_count"):  # Triton's name, and KFServing's
            raise ApiError(400, "bad_request", f"output {output.name!r}: the classification extension is not "
                                               "supported; read the label and scores outputs")
        if "shared_memory_region" in params:
            raise ApiError(400, "bad_request", "the shared memory extension is not supported")
        wanted = params.get("binary_data", default)
        if not isinstance(wanted, bool):
            raise ApiError(400, "bad_request", f"output {output.name!r}: binary_data must be true or false, got "
                                               f"{wanted!r}")
        if wanted:
            binary.add(output.name)
    return binary


def infer_response(response: Any, binary: set[str]) -> Any:
    """The InferResponse unchanged when no output is binary; else one body: the JSON header (its length in the
    Inference-Header-Content-Length header), then each binary output's bytes in output order."""
    if not binary:
        return response
    header = response.model_dump(mode="json", exclude_none=True)  # as the JSON route writes it (NaN as null)
    blobs = []
    for output, tensor in zip(header["outputs"], response.outputs):
        if output["name"] in binary:
            blob = encode_tensor(output["datatype"], tensor.data)  # binary FP32 keeps NaN
            del output["data"]
            output["parameters"] = {**output.get("parameters", {}), "binary_data_size": len(blob)}
            blobs.append(blob)
    head = json.dumps(header, allow_nan=False).encode()
    return Response(head + b"".join(blobs), media_type="application/octet-stream",
                    headers={HEADER_LENGTH: str(len(head))})
