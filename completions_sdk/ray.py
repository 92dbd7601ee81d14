"""Batch jobs on Ray Data: callable classes for ``Dataset.map_batches``.

Needs the ``ray`` extra (``pip install 'completions-sdk[ray]'``); ``import completions_sdk``
never imports Ray, and this module imports it only when a job asks for the shared quota.

Examples:
    >>> import ray.data
    >>> from completions_sdk.ray import Completions
    >>> ds = ray.data.read_json("prompts.jsonl")  # one {"id": ..., "prompt": ...} per line
    >>> out = ds.map_batches(
    ...     Completions,
    ...     fn_constructor_kwargs={
    ...         "client_options": {"rate_limit": {"requests_per_minute": 600}},
    ...         "request_defaults": {"model": "gpt-4o-mini", "max_tokens": 64},
    ...     },
    ...     concurrency=4,  # actors, each with one AsyncClient
    ...     batch_size=64,
    ... )
    >>> out.write_parquet("out/")
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ._chat_request import ChatCompletionRequest
from ._client import AsyncClient
from ._exceptions import CompletionsError
from ._quota import RateLimit, estimate_tokens
from ._ray_quota import SharedLimiter, schedule_actor
from ._ray_rows import Outcome, as_table, request_of, row_fields, with_outcomes
from ._request import CompletionRequest
from ._request_base import RequestBase

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["ChatCompletions", "Completions"]

DEFAULT_CONCURRENCY = 16


class _RowMapper:
    """What both callable classes share; each names its request type and client method."""

    request_type: ClassVar[type[RequestBase]]
    method: ClassVar[str]

    def __init__(
        self,
        client_options: Mapping[str, Any] | None = None,
        request_defaults: Mapping[str, Any] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        """Build this actor's one client; runs once per actor, in the actor.

        Args:
            client_options: ``AsyncClient`` keyword arguments, plus ``rate_limit``: a
                ``RateLimit`` or a dict of its fields (``requests_per_minute``,
                ``tokens_per_minute``), held by the whole job, every actor together.
            request_defaults: request fields for what a row does not set (``model``...).
            concurrency: the most requests this actor has in flight, over all its batches.
        """
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        options = dict(client_options or {})
        limit = _as_rate_limit(options.pop("rate_limit", None))
        rates = (limit.requests_per_minute, limit.tokens_per_minute)
        shared = rates != (None, None)
        # Without rates, each actor's client still follows the proxy's 429s (unless
        # adaptive=False): a quota reply is waited out, not turned into a failed row.
        self._client = AsyncClient(**options, rate_limit=None if shared else limit)
        self._defaults = dict(request_defaults or {})
        self._fields = frozenset(self.request_type.model_fields) - {"stream", "stream_options"}
        self._concurrency = concurrency
        self._in_flight: asyncio.Semaphore | None = None  # made on the loop that uses it
        self._limiter: SharedLimiter | None = None
        if shared:
            # Only tokens limited: lease as if DEFAULT_CONCURRENCY requests a second.
            rate = (rates[0] or 60.0 * DEFAULT_CONCURRENCY) / 60.0
            self._limiter = SharedLimiter(
                schedule_actor(*rates), rate, reconnect=lambda: schedule_actor(*rates)
            )
            # Every send of this actor's client goes through the job's schedule: its own
            # quota gate pauses on a 429 and re-sends without spending max_retries.
            self._client._limiter = self._limiter

    async def __call__(self, batch: Any) -> AsyncIterator[pa.Table]:
        """Send every row of ``batch``; yield it with the output columns, one row per row.

        An async generator: Ray Data runs it on the actor's event loop, several batches
        at a time, and this one client serves them all.
        """
        table = as_table(batch)
        outcomes: list[Outcome | RequestBase] = []  # requests become outcomes when sent
        for fields in row_fields(table, self._fields):
            try:
                outcomes.append(request_of(self.request_type, self._defaults, fields))
            except ValueError as error:  # a bad row is an error row, not a failed job
                outcomes.append(error)
        await self._send_all(outcomes)
        yield with_outcomes(table, outcomes)  # type: ignore[arg-type]  # all sent by now

    async def _send_all(self, slots: list[Any]) -> None:
        # One semaphore for the actor, not one window per batch: Ray Data runs several
        # batches at once on the actor's loop, and ``concurrency`` bounds them together.
        if self._in_flight is None:
            self._in_flight = asyncio.Semaphore(self._concurrency)
        in_flight = self._in_flight

        async def send(index: int, request: RequestBase) -> None:
            async with in_flight:
                slots[index] = await self._send(request)

        await asyncio.gather(
            *(
                send(index, item)
                for index, item in enumerate(slots)
                if isinstance(item, RequestBase)
            )
        )

    async def _send(self, request: RequestBase) -> Outcome:
        if self._limiter is not None:
            await self._limiter.prefetch(estimate_tokens(request))
        try:
            reply: Outcome = await getattr(self._client, self.method)(request)
        except CompletionsError as error:  # a failed row is an error row
            return error
        return reply


class Completions(_RowMapper):
    """Completions for a Ray Data job: ``ds.map_batches(Completions, ...)``.

    Each row holds ``prompt`` (or any ``CompletionRequest`` field as a column; a null
    cell is unset); ``request_defaults`` fill the rest. Each output row is the input row
    plus ``text``, ``finish_reason``, ``prompt_tokens``, ``completion_tokens``,
    ``total_tokens``, ``request_id``, ``policy_detections`` (JSON) and ``error`` (JSON
    with ``type``, ``status`` and ``message``; null on success), with the same types for
    every row. A failed or invalid row is an error row: every input row comes out once.

    Pass ``fn_constructor_kwargs={"client_options": ..., "request_defaults": ...}``
    (see ``__init__``); ``concurrency=N`` in ``map_batches`` is the number of actors.
    """

    request_type = CompletionRequest
    method = "complete"


class ChatCompletions(_RowMapper):
    """Chat completions for a Ray Data job: rows with ``messages`` (a list of dicts).

    The same options and output columns as ``Completions``; ``text`` is the reply
    message's content.
    """

    request_type = ChatCompletionRequest
    method = "chat"


def _as_rate_limit(rate_limit: RateLimit | Mapping[str, Any] | None) -> RateLimit:
    """A ``RateLimit`` from one, a dict of its fields, or ``None`` (adaptive, no rates)."""
    if rate_limit is None:
        return RateLimit()
    if isinstance(rate_limit, Mapping):
        return RateLimit(**rate_limit)
    if not isinstance(rate_limit, RateLimit):
        raise TypeError(
            f"rate_limit must be a RateLimit or a dict, got {type(rate_limit).__name__}"
        )
    return rate_limit
