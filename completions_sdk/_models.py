"""Completion reply models: ``Completion`` and its parts, and the streamed ``CompletionChunk``.

The shared base and ``Usage`` live in ``_reply_base.py``; how a reply of an unexpected
shape is read is ``_lenient.py``'s job.
"""

from __future__ import annotations

from pydantic import Field

from ._reply_base import ProxyBody, ProxyReply, WireModel

__all__ = ["Completion", "CompletionChoice", "CompletionChunk", "Logprobs"]


class Logprobs(WireModel):
    """Log probabilities of the generated tokens."""

    tokens: list[str] | None = None
    """The generated tokens."""
    token_logprobs: list[float | None] | None = None
    """The log probability of each generated token."""
    top_logprobs: list[dict[str, float] | None] | None = None
    """For each position, the most likely tokens and their log probabilities."""
    text_offset: list[int] | None = None
    """The character offset of each token in the text."""


class CompletionChoice(WireModel):
    """One generated completion."""

    text: str = ""
    """The generated text (a delta of it, in a streamed chunk)."""
    index: int = 0
    """Which choice this is, for ``n > 1`` or several prompts."""
    logprobs: Logprobs | None = None
    """Log probabilities, when ``logprobs`` was requested."""
    finish_reason: str | None = None
    """Why generation stopped: ``"stop"``, ``"length"``, ``"eos"``, ... (a free string)."""


class _CompletionBase(ProxyBody):
    choices: list[CompletionChoice] = Field(default_factory=list)
    """The generated completions."""

    @property
    def text(self) -> str:
        """The text of choice 0, or ``""`` when there is none (as in a chunk of another choice)."""
        for choice in self.choices:
            if choice.index == 0:
                return choice.text
        return ""


class Completion(_CompletionBase, ProxyReply):
    """A completion reply (OpenAI's ``text_completion`` object, plus detections)."""


class CompletionChunk(_CompletionBase):
    """One event of a streamed completion; each choice carries a piece of text."""
