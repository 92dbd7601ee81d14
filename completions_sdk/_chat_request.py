"""``ChatCompletionRequest``: the body of ``POST /ai-proxy/chat/completions``.

OpenAI's chat body (``messages`` instead of ``prompt``) plus ``enkrypt_context``. Messages,
tools and formats are ``TypedDict``s so that plain dicts work and an IDE completes their
keys; unknown keys in them are kept and sent, like unknown top-level fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, model_validator, with_config
from typing_extensions import NotRequired, Required, Self, TypedDict

from ._request_base import RequestBase
from ._request_rules import one_of, rule

__all__ = [
    "AssistantMessage",
    "ChatCompletionRequest",
    "ChatMessageParam",
    "FunctionDefinition",
    "ResponseFormat",
    "SystemMessage",
    "ToolCallParam",
    "ToolChoice",
    "ToolMessage",
    "ToolParam",
    "UserMessage",
]

_OPEN = ConfigDict(extra="allow")
FunctionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


@with_config(_OPEN)
class TextPart(TypedDict):
    """A text part of a message's content."""

    type: Literal["text"]
    text: str


@with_config(_OPEN)
class ImagePart(TypedDict):
    """An image part of a user message's content."""

    type: Literal["image_url"]
    image_url: dict[str, Any]


ContentPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]
TextContent = Annotated[str | list[TextPart], one_of("content", "a string or a list of text parts")]
UserContent = Annotated[
    str | list[ContentPart], one_of("content", "a string or a list of content parts")
]


@with_config(_OPEN)
class SystemMessage(TypedDict):
    """Instructions for the model."""

    role: Required[Literal["system"]]
    content: Required[TextContent]
    name: NotRequired[str]


@with_config(_OPEN)
class UserMessage(TypedDict):
    """A message from the user."""

    role: Required[Literal["user"]]
    content: Required[UserContent]
    name: NotRequired[str]


@with_config(_OPEN)
class FunctionCall(TypedDict):
    """The function a tool call invokes, with its JSON-encoded arguments."""

    name: str
    arguments: str


@with_config(_OPEN)
class ToolCallParam(TypedDict):
    """A tool call the assistant made, as sent back in the conversation."""

    id: str
    type: Literal["function"]
    function: FunctionCall


@with_config(_OPEN)
class AssistantMessage(TypedDict, total=False):
    """An earlier reply of the model (text and/or tool calls)."""

    role: Required[Literal["assistant"]]
    content: TextContent | None
    tool_calls: list[ToolCallParam]
    name: str


@with_config(_OPEN)
class ToolMessage(TypedDict):
    """The result of a tool call."""

    role: Literal["tool"]
    content: TextContent
    tool_call_id: str


ChatMessageParam = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]
"""A message of the conversation, told apart by its ``role``."""


@with_config(_OPEN)
class FunctionDefinition(TypedDict, total=False):
    """A function the model may call."""

    name: Required[FunctionName]
    description: str
    parameters: dict[str, Any]
    """A JSON Schema of the arguments."""
    strict: bool


@with_config(_OPEN)
class ToolParam(TypedDict):
    """A tool the model may use."""

    type: Literal["function"]
    function: FunctionDefinition


@with_config(_OPEN)
class NamedToolChoice(TypedDict):
    """Force a call of this function."""

    type: Literal["function"]
    function: dict[Literal["name"], FunctionName]


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice
"""Whether and which tool the model must call."""
_TOOL_CHOICE = one_of(
    "tool_choice",
    "'none', 'auto', 'required' or {'type': 'function', 'function': {'name': ...}}",
)


@with_config(_OPEN)
class ResponseFormat(TypedDict, total=False):
    """The format the reply must follow."""

    type: Required[Literal["text", "json_object", "json_schema"]]
    json_schema: dict[str, Any]


def _tuple_as_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


AsList = BeforeValidator(_tuple_as_list)
"""The client's signatures take any sequence for ``messages`` and ``tools``; strict
validation takes lists only, so a tuple becomes one."""


class ChatCompletionRequest(RequestBase):
    """The body of ``POST /ai-proxy/chat/completions``.

    Unknown fields are sent as given, as for ``CompletionRequest``; a field of the
    completions endpoint (``prompt``, ``suffix``, ...) is an error that names
    ``client.complete()``.

    Examples:
        >>> ChatCompletionRequest(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        ChatCompletionRequest(model='gpt-4o-mini', messages=[{'role': 'user', 'content': 'hi'}])
    """

    endpoint_name = "chat"
    client_methods = ("chat", "stream_chat")

    messages: Annotated[list[ChatMessageParam], Field(min_length=1), AsList]
    """The conversation so far, oldest first."""
    logprobs: bool | None = None
    """Return the log probability of each output token."""
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    """With ``logprobs``: this many most likely tokens at each position, 0 to 20."""
    max_completion_tokens: Annotated[int, Field(gt=0)] | None = None
    """The most tokens to generate, reasoning included; must be positive."""
    response_format: ResponseFormat | None = None
    """``{"type": "json_object"}`` or a JSON schema the reply must follow."""
    tools: Annotated[list[ToolParam] | None, AsList] = None
    """Functions the model may call."""
    tool_choice: Annotated[ToolChoice, _TOOL_CHOICE] | None = None
    """``"none"``, ``"auto"``, ``"required"`` or a named function."""
    parallel_tool_calls: bool | None = None
    """Whether the model may call several tools at once."""

    @model_validator(mode="after")
    def _check_chat_combinations(self) -> Self:
        if self.top_logprobs is not None and not self.logprobs:
            raise rule(
                "top_logprobs_without_logprobs",
                "top_logprobs needs logprobs=True (got logprobs={logprobs})",
                logprobs=self.logprobs,
            )
        if self.tool_choice not in (None, "none") and not self.tools:
            raise rule(
                "tool_choice_without_tools",
                "tool_choice={tool_choice} needs tools",
                tool_choice=self.tool_choice,
            )
        return self
