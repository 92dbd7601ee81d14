"""Reply models: ``Completion`` and its parts, and the streamed ``CompletionChunk``.

Lenient by design (``docs/proxy-api.md``, "Response body"): unknown fields are kept
(``model_extra``), ``object`` and ``finish_reason`` are free strings (the service sends
``"text.completion"`` and ``"eos"``), missing parts are ``None``, big integers stay exact,
and a field of an unexpected shape is repaired rather than failing the reply
(``_lenient.py``).
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)
from typing_extensions import Self

from ._detections import PolicyDetections
from ._display import reply_html, reply_repr_args
from ._lenient import validate_leniently

__all__ = [
    "Completion",
    "CompletionChoice",
    "CompletionChunk",
    "Logprobs",
    "Reply",
    "ReplyEnvelope",
    "Usage",
]


class Reply(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        frozen=True,
        coerce_numbers_to_str=True,  # an id sent as a number is still an id
        # Validators are built on first use, not at import (most programs use a few models).
        defer_build=True,
    )

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        """Validate JSON text; a field of an unexpected shape is repaired, not fatal."""
        try:  # plain types first, straight from the bytes at pydantic-core's speed
            return super().model_validate_json(json_data, **options)
        except ValidationError as error:
            try:
                data = pydantic_core.from_json(json_data)
            except ValueError:
                raise error from None
        return cls.model_validate(data, **options)  # repairs what it can

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """Validate decoded data; a field of an unexpected shape is repaired, not fatal."""
        validate = super().model_validate
        return validate_leniently(lambda data: validate(data, **options), obj)


class Logprobs(Reply):
    """Log probabilities of the generated tokens."""

    tokens: list[str] | None = None
    """The generated tokens."""
    token_logprobs: list[float | None] | None = None
    """The log probability of each generated token."""
    top_logprobs: list[dict[str, float] | None] | None = None
    """For each position, the most likely tokens and their log probabilities."""
    text_offset: list[int] | None = None
    """The character offset of each token in the text."""


class CompletionChoice(Reply):
    """One generated completion."""

    text: str = ""
    """The generated text (a delta of it, in a streamed chunk)."""
    index: int = 0
    """Which choice this is, for ``n > 1`` or several prompts."""
    logprobs: Logprobs | None = None
    """Log probabilities, when ``logprobs`` was requested."""
    finish_reason: str | None = None
    """Why generation stopped: ``"stop"``, ``"length"``, ``"eos"``, ... (a free string)."""


class Usage(Reply):
    """Token counts of the request."""

    prompt_tokens: int | None = None
    """Tokens in the prompt (all prompts, for a list)."""
    completion_tokens: int | None = None
    """Tokens generated, over every choice."""
    total_tokens: int | None = None
    """``prompt_tokens + completion_tokens``, as the proxy counted them."""


class ReplyEnvelope(Reply):
    """The fields every reply and chunk of both endpoints carry around its choices."""

    id: str | None = None
    """The reply's id."""
    object: str | None = None
    """The object type (the proxy was seen to send ``"text.completion"``)."""
    created: int | None = None
    """When it was created, in unix seconds."""
    model: str | None = None
    """The model that generated it."""
    system_fingerprint: str | None = None
    """The backend configuration the model ran with."""
    usage: Usage | None = None
    """Token counts (in a stream, only on the last chunk with ``include_usage``)."""
    policy_detections: PolicyDetections | None = Field(
        default=None, alias="enkrypt_policy_detections"
    )
    """What the proxy's guardrails found (``enkrypt_policy_detections`` on the wire).

    A dump names it ``policy_detections`` unless asked for the wire names:
    ``model_dump_json(by_alias=True)`` (or ``model_dump(by_alias=True)``) writes
    ``enkrypt_policy_detections``, as the proxy sent it.
    """

    @property
    def text(self) -> str:
        """The text of choice 0 (each reply type knows where its text lives)."""
        return ""

    def __repr_args__(self) -> Any:
        # Short: the full content stays one ``model_dump()`` away.
        return reply_repr_args(self)

    def _repr_html_(self) -> str:
        return reply_html(self)


class _CompletionBase(ReplyEnvelope):
    choices: list[CompletionChoice] = Field(default_factory=list)
    """The generated completions."""

    @property
    def text(self) -> str:
        """The text of choice 0, or ``""`` when there is none (as in a chunk of another choice)."""
        for choice in self.choices:
            if choice.index == 0:
                return choice.text
        return ""


class Completion(_CompletionBase):
    """A completion reply (OpenAI's ``text_completion`` object, plus detections)."""


class CompletionChunk(_CompletionBase):
    """One event of a streamed completion; each choice carries a piece of text."""
