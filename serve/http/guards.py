"""Per-request guards shared by the v1 and v2 routes: text limits, and dropping work whose client left."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from fastapi import Request

from callinkit.serve.http.errors import ApiError
from callinkit.serve.http.settings import ServerSettings

T = TypeVar("T")


def check_texts(texts: Sequence[str], settings: ServerSettings, field: str = "texts") -> None:
    """Raise a 422 ApiError when there are too many texts or one is too long."""
    if len(texts) > settings.max_texts:
        raise ApiError(422, "too_many_texts", f"{field}: at most {settings.max_texts} texts per request "
                                              f"(got {len(texts)})")
    for i, text in enumerate(texts):
        if len(text) > settings.max_chars:
            raise ApiError(422, "text_too_long", f"{field}[{i}]: at most {settings.max_chars} characters "
                                                 f"per text (got {len(text)})")


def check_rewrite_options(num_candidates: int | None, max_new_tokens: int | None, settings: ServerSettings) -> None:
    """Raise a 422 ApiError when a rewrite asks for more candidates or tokens than the server allows."""
    if num_candidates is not None and num_candidates > settings.max_candidates:
        raise ApiError(422, "too_many_candidates", f"num_candidates: at most {settings.max_candidates} "
                                                   f"(got {num_candidates})")
    if max_new_tokens is not None and max_new_tokens > settings.max_new_tokens:
        raise ApiError(422, "max_new_tokens_too_large", f"max_new_tokens: at most {settings.max_new_tokens} "
                                                        f"(got {max_new_tokens})")


async def until_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it if the client disconnects first (its queued texts are then dropped).

    Raises ApiError 499 in that case; nobody is left to read it, but the status shows in the metrics.
    """
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            return task.result()
        raise ApiError(499, "client_closed_request", "the client disconnected")
    finally:
        watcher.cancel()
        task.cancel()


async def _disconnected(request: Request) -> None:
    # The body has been read; the next ASGI message is the disconnect (servers send it when the client
    # leaves, or once the response is complete).
    while (await request.receive())["type"] != "http.disconnect":
        pass
