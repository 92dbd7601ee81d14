"""What both request bodies share: ``RequestBase``, its fields and rules, and their helpers.

Each field and its rule is written once: the fields both endpoints take live here, and
``CompletionRequest`` (``_request.py``) and ``ChatCompletionRequest`` (``_chat_request.py``)
add their own. Ranges follow ``docs/proxy-api.md`` ("Request body"). Validation
is strict (no silent coercion of ``"16"`` into ``16``) because a wrong value should fail
here, with the field, the rule and the value named, rather than at the proxy.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Annotated, Any, ClassVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, model_validator
from pydantic_core import InitErrorDetails
from typing_extensions import Self, TypedDict

from ._request_rules import one_of, rule

__all__ = ["RequestBase", "StreamOptions", "UnknownFieldWarning"]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

MAX_STOP_SEQUENCES = 4
StopSequence = Annotated[str, Field(min_length=1)]
Stop = Annotated[
    StopSequence | Annotated[list[StopSequence], Field(max_length=MAX_STOP_SEQUENCES)],
    one_of(
        "stop", f"a string or a list of up to {MAX_STOP_SEQUENCES} strings", items="stop sequences"
    ),
]
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


class RequestBase(BaseModel):
    """The body fields both endpoints (completions and chat) take, with their rules."""

    endpoint_name: ClassVar[str] = ""
    """What a subclass's endpoint is called in messages: ``"completions"``, ``"chat"``."""
    client_methods: ClassVar[tuple[str, str]] = ("", "")
    """The client methods that send a subclass's body: without and with streaming."""
    _by_endpoint: ClassVar[dict[str, type[RequestBase]]] = {}

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
    stop: Stop | None = None
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

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "endpoint_name" in cls.__dict__:  # an endpoint's own body, not a user's subclass of it
            RequestBase._by_endpoint[cls.endpoint_name] = cls

    @model_validator(mode="after")
    def _check_unknown_fields(self) -> Self:
        if not self.model_extra:
            return self
        self._refuse_other_endpoints_fields(self.model_extra)
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

    def _refuse_other_endpoints_fields(self, extra: dict[str, Any]) -> None:
        # Sent as an unknown field, messages= on complete() would be answered as a text
        # completion without a word: name the method that takes it instead.
        own = type(self).model_fields
        lines: list[InitErrorDetails] = []
        for other in RequestBase._by_endpoint.values():
            if isinstance(self, other):
                continue
            method = other.client_methods[1 if self.stream else 0]
            for name in [n for n in extra if n in other.model_fields and n not in own]:
                error = rule(
                    "field_of_another_endpoint",
                    "{field} is a {endpoint} field: use client.{method}(...)",
                    field=name,
                    endpoint=other.endpoint_name,
                    method=method,
                )
                lines.append(InitErrorDetails(type=error, loc=(name,), input=extra[name]))
        if lines:
            raise ValidationError.from_exception_data(type(self).__name__, lines)

    @model_validator(mode="after")
    def _check_stream_options(self) -> Self:
        if self.stream_options is not None and not self.stream:
            raise rule(
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
