"""The proxy's two endpoints, described as data so one machinery serves both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from ._assembly import CompletionAssembler, StreamAssembler
from ._chat_assembly import ChatAssembler
from ._chat_models import ChatCompletion, ChatCompletionChunk
from ._chat_request import ChatCompletionRequest
from ._models import Completion, CompletionChunk
from ._reply_base import ProxyBody, ProxyReply
from ._request import CompletionRequest
from ._request_base import RequestBase

__all__ = ["CHAT", "COMPLETIONS", "Endpoint"]

ReplyT = TypeVar("ReplyT", bound=ProxyReply)
ChunkT = TypeVar("ChunkT", bound=ProxyBody)


@dataclass(frozen=True, eq=False)
class Endpoint(Generic[ChunkT, ReplyT]):
    """A path, its request and reply models, and how its stream is assembled."""

    path: str
    request_model: type[RequestBase]
    reply_model: type[ReplyT]
    assembler: type[StreamAssembler[ChunkT, ReplyT]]
    method: str
    """The client method that calls it without streaming."""
    stream_method: str
    """The client method that streams it."""

    def __repr__(self) -> str:
        return f"Endpoint({self.path!r})"


COMPLETIONS: Endpoint[CompletionChunk, Completion] = Endpoint(
    "/ai-proxy/completions",
    CompletionRequest,
    Completion,
    CompletionAssembler,
    "complete",
    "stream",
)
CHAT: Endpoint[ChatCompletionChunk, ChatCompletion] = Endpoint(
    "/ai-proxy/chat/completions",
    ChatCompletionRequest,
    ChatCompletion,
    ChatAssembler,
    "chat",
    "stream_chat",
)
