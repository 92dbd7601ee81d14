"""What every body the proxy sends shares, for both endpoints.

``WireModel`` is the base of each part read from the wire: unknown fields are kept
(``model_extra``), strings such as ``object`` and ``finish_reason`` are free (the service
sends ``"text.completion"`` and ``"eos"``), missing parts are ``None`` and big integers stay
exact (``docs/proxy-api.md``, "Response body"). These models validate as pydantic
defines; the decode paths read them with ``lenient_validate`` (``_lenient.py``), which
repairs a field of an unexpected shape rather than failing the reply.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr
from typing_extensions import Self

from ._detections import PolicyDetections
from ._display import reply_html, reply_repr_args
from ._exceptions import request_id_from

__all__ = ["ProxyBody", "ProxyReply", "Usage", "WireModel"]


class WireModel(BaseModel):
    """A part of what the proxy sends: extras kept, frozen, an id may come as a number."""

    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        frozen=True,
        coerce_numbers_to_str=True,  # an id sent as a number is still an id
        # Validators are built on first use, not at import (most programs use a few models).
        defer_build=True,
    )


class Usage(WireModel):
    """Token counts of the request."""

    prompt_tokens: int | None = None
    """Tokens in the prompt (all prompts, for a list)."""
    completion_tokens: int | None = None
    """Tokens generated, over every choice."""
    total_tokens: int | None = None
    """``prompt_tokens + completion_tokens``, as the proxy counted them."""


class ProxyBody(WireModel):
    """A whole body the proxy sends: a reply, or one event of a stream (a chunk).

    Holds the fields both endpoints carry around their choices.
    """

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


class ProxyReply(ProxyBody):
    """A whole reply (not a chunk): the body, and the request id it came with.

    The request id is not part of the body: it is a private attribute, left out of
    ``model_dump()`` and ``model_dump_json()`` and of the repr, kept by ``model_copy()`` and
    by pickling. Like any pydantic private attribute it takes part in ``==``: two replies
    are equal when their bodies and request ids are (compare ``model_dump()`` for the body
    alone). Chunks carry none, to keep each one cheap: ``stream.request_id`` has it.
    """

    _request_id: str | None = PrivateAttr(default=None)

    @property
    def request_id(self) -> str | None:
        """The proxy's request id header (``x-request-id``) of this reply, if it sent one.

        Quote it to the proxy's support. ``None`` for a reply built by hand.
        """
        return self._request_id

    def _received_with(self, headers: httpx.Headers) -> Self:
        # Set once, where a reply is made from a response (``parse_reply``, a stream's
        # final reply); the model is frozen, its private attributes are not.
        self._request_id = request_id_from(headers)
        return self
