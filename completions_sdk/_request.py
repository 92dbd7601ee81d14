"""Request bodies: ``CompletionRequest``, and the fields it shares with chat requests.

Each field and its rule is written once: the fields both endpoints take live in
``RequestBase``. Ranges follow ``docs/proxy-api.md`` ("Request body"). Validation
is strict (no silent coercion of ``"16"`` into ``16``) because a wrong value should fail
here, with the field, the rule and the value named, rather than at the proxy.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator
from pydantic_core import PydanticCustomError
from typing_extensions import Self, TypedDict

__all__ = ["CompletionRequest", "Prompt", "RequestBase", "StreamOptions", "UnknownFieldWarning"]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

Prompt = str | list[str] | list[int] | list[list[int]]
"""A prompt: text, a batch of texts, token ids, or a batch of token-id lists."""

StopSequence = Annotated[str, Field(min_length=1)]
TokenId = Annotated[int, Strict(False)]  # JSON-style "50256" keys are the documented form
TokenBias = Annotated[float, Field(ge=-100, le=100)]


class StreamOptions(TypedDict, total=False):
    """Options for a streamed reply."""

    include_usage: bool
    """Send a last chunk carrying the token ``usage`` of the whole request."""


class UnknownFieldWarning(UserWarning):
    """A request field the SDK does not know looks like a typo of one it does.

    Unknown fields are sent as given (the proxy may take fields this SDK does not list);
    this warning only fires for a name close to a known one, such as ``promt``. Silence it
    with ``warnings.filterwarnings("ignore", category=UnknownFieldWarning)``.
    """


_OWN_CODE = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep for path in (pydantic.__file__ or "", __file__)
)
"""Where this package's and pydantic's code lives: frames a warning should not point at."""


def _user_stacklevel() -> int:
    """The ``stacklevel`` of the first caller outside this package and pydantic."""
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_OWN_CODE):
        level, frame = level + 1, frame.f_back
    return level


def _rule(code: str, message: str, **values: Any) -> PydanticCustomError:
    return PydanticCustomError(code, message, values)


class RequestBase(BaseModel):
    """The body fields both endpoints (completions and chat) take, with their rules."""

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        validate_assignment=True,
        allow_inf_nan=False,
        defer_build=True,
    )

    model: Annotated[str, Field(min_length=1)]
    """ID of the model to use (the proxy may override it from the deployment)."""
    enkrypt_context: str | None = None
    """Context for relevancy or hallucination detection in output guardrails."""
    frequency_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
    """Penalty on tokens by their frequency so far, -2.0 to 2.0."""
    logit_bias: dict[TokenId, TokenBias] | None = None
    """Token id to bias, each from -100 to 100 (e.g. ``{"50256": -100}``)."""
    max_tokens: Annotated[int, Field(gt=0)] | None = None
    """The most tokens to generate; must be positive."""
    n: Annotated[int, Field(ge=1, le=128)] | None = None
    """How many choices to generate (for each prompt), 1 to 128."""
    presence_penalty: Annotated[float, Field(ge=-2.0, le=2.0)] | None = None
    """Penalty on tokens that already appeared, -2.0 to 2.0."""
    seed: Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)] | None = None
    """Best-effort deterministic sampling seed (signed 64-bit)."""
    stop: StopSequence | Annotated[list[StopSequence], Field(max_length=4)] | None = None
    """Up to 4 sequences where generation stops."""
    stream: bool | None = None
    """Stream the reply as server-sent events; set for you by the streaming methods."""
    stream_options: StreamOptions | None = None
    """Options for streaming, e.g. ``{"include_usage": True}``; only with ``stream``."""
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    """Sampling temperature, 0 to 2."""
    top_p: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    """Nucleus sampling probability mass, 0 to 1."""
    user: str | None = None
    """An identifier of your end user, for abuse monitoring."""

    @model_validator(mode="after")
    def _warn_about_likely_typos(self) -> Self:
        if not self.model_extra:
            return self
        import difflib  # only requests with unknown fields need it

        for name in self.model_extra:
            close = difflib.get_close_matches(name, type(self).model_fields, n=1, cutoff=0.8)
            if close:
                warnings.warn(
                    f"{type(self).__name__}: unknown field {name!r} is sent as given; "
                    f"did you mean {close[0]!r}?",
                    UnknownFieldWarning,
                    stacklevel=_user_stacklevel(),
                )
        return self

    @model_validator(mode="after")
    def _check_stream_options(self) -> Self:
        if self.stream_options is not None and not self.stream:
            raise _rule(
                "stream_options_without_stream",
                "stream_options is only allowed when stream is true (got stream={stream})",
                stream=self.stream,
            )
        return self

    def to_json(self) -> bytes:
        """The JSON body to send: only the fields that were set, extras included."""
        return self.__pydantic_serializer__.to_json(self, exclude_unset=True)

    def __repr_args__(self) -> Any:
        # Show only what was set: the repr then reads like the call that built it.
        fields_set = self.model_fields_set
        for name, value in super().__repr_args__():
            if name in fields_set or (self.model_extra and name in self.model_extra):
                yield name, value


class CompletionRequest(RequestBase):
    """The body of ``POST /ai-proxy/completions``.

    Only the fields you set are sent. Unknown keyword arguments are accepted and sent
    as given, for server features newer than this SDK.

    Examples:
        >>> CompletionRequest(model="gpt-3.5-turbo-instruct", prompt="Say hi", max_tokens=16)
        CompletionRequest(model='gpt-3.5-turbo-instruct', max_tokens=16, prompt='Say hi')
    """

    prompt: Prompt | None = None
    """The prompt(s): a string, list of strings, list of token ids, or list of token-id lists."""
    best_of: Annotated[int, Field(ge=1, le=20)] | None = None
    """Candidates generated server-side; must exceed ``n``; cannot be streamed."""
    echo: bool | None = None
    """Echo the prompt back in addition to the completion."""
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    """Return log probabilities of this many most likely tokens, 0 to 5."""
    suffix: str | None = None
    """The text that comes after the inserted completion."""

    @model_validator(mode="after")
    def _check_best_of(self) -> Self:
        if self.best_of is not None and self.n is not None and self.best_of <= self.n:
            raise _rule(
                "best_of_not_greater_than_n",
                "best_of must be greater than n (got best_of={best_of}, n={n})",
                best_of=self.best_of,
                n=self.n,
            )
        if self.stream and self.best_of is not None:
            raise _rule(
                "best_of_with_stream",
                "best_of cannot be combined with stream (got best_of={best_of})",
                best_of=self.best_of,
            )
        return self
