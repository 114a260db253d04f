"""The chat prompt of rewriter v2, written once for training and for torch-free inference.

SmolLM2-Instruct uses ChatML (`<|im_start|>role\\n...<|im_end|>\\n`). Training renders the prompt with
`render_prompt()` and appends the call-in plus `<|im_end|>`; inference renders the same string, so the two
always agree token for token. The bundle's manifest stores `system` so that a bundle keeps the instruction
it was trained with.
"""

from __future__ import annotations

SYSTEM_PROMPT = ("Rewrite the message as a call-in: keep its concern, names, quotes and facts; drop insults, "
                 "mockery and threats; invent nothing.")
IM_START, IM_END = "<|im_start|>", "<|im_end|>"


def user_message(text: str, context: str | None = None) -> str:
    """The user turn: the message, and the post it replies to when there is one."""
    text = text.strip()
    if context and context.strip():
        return f"Replying to: {context.strip()}\nMessage: {text}"
    return text


def prompt_prefix(system: str = SYSTEM_PROMPT) -> str:
    """The part of every prompt before the message: the system turn and the user header."""
    return f"{IM_START}system\n{system}{IM_END}\n{IM_START}user\n"


def render_prompt(text: str, context: str | None = None, system: str = SYSTEM_PROMPT) -> str:
    """The full prompt up to and including the assistant header; the model writes the call-in next."""
    return f"{prompt_prefix(system)}{user_message(text, context)}{IM_END}\n{IM_START}assistant\n"
