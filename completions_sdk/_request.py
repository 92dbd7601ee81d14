"""``CompletionRequest``: the body of ``POST /ai-proxy/completions``.

The fields both endpoints take, and their rules, are ``RequestBase``'s (``_request_base.py``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator
from typing_extensions import Self

from ._request_base import RequestBase
from ._request_rules import one_of, rule

__all__ = ["CompletionRequest", "Prompt"]

Prompt = str | list[str] | list[int] | list[list[int]]
"""A prompt: text, a batch of texts, token ids, or a batch of token-id lists."""

_ONE_KIND = one_of(
    "prompt",
    "a string, a list of strings, a list of token ids or a list of token-id lists",
    hint="a prompt list holds only strings, only token ids or only token-id lists",
)


class CompletionRequest(RequestBase):
    """The body of ``POST /ai-proxy/completions``.

    Only the fields you set are sent. Unknown keyword arguments are accepted and sent
    as given, for server features newer than this SDK; a field of the chat endpoint
    (``messages``, ``tools``, ...) is an error that names ``client.chat()``.

    Examples:
        >>> CompletionRequest(model="gpt-3.5-turbo-instruct", prompt="Say hi", max_tokens=16)
        CompletionRequest(model='gpt-3.5-turbo-instruct', max_tokens=16, prompt='Say hi')
    """

    endpoint_name = "completions"
    client_methods = ("complete", "stream")

    prompt: Annotated[Prompt, _ONE_KIND] | None = None
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
            raise rule(
                "best_of_not_greater_than_n",
                "best_of must be greater than n (got best_of={best_of}, n={n})",
                best_of=self.best_of,
                n=self.n,
            )
        if self.stream and self.best_of is not None:
            raise rule(
                "best_of_with_stream",
                "best_of cannot be combined with stream (got best_of={best_of})",
                best_of=self.best_of,
            )
        return self
