"""Many requests with bounded concurrency: lazy input, outcomes as they finish.

Entries are pulled from any iterable (a generator included) only as places free up, and
validated as they are pulled: at most ``concurrency`` entries are held at once. The sync
runner uses a thread pool (``httpx.Client`` is thread-safe), the async one a window of
tasks; both yield ``(index, outcome)`` as each call ends. ``BatchResults`` puts them back
in input order for ``complete_many``. How many of those calls are *sending* at once is
the quota's business (``_quota_gate.Window``), not the runner's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from typing import Any, Protocol, TypeVar

from ._cancel import Abandon
from ._exceptions import CompletionsError
from ._request_base import RequestBase

__all__ = [
    "BatchItem",
    "BatchResults",
    "aiter_completed",
    "as_requests",
    "iter_completed",
    "validated",
]

BatchItem = RequestBase | Mapping[str, Any]
"""A batch entry: a ``CompletionRequest`` / ``ChatCompletionRequest`` or a dict of its fields."""
ReplyT = TypeVar("ReplyT")
Entry = tuple[int, RequestBase]


class Progress(Protocol):
    """What a progress bar must offer (``tqdm`` does)."""

    def update(self, n: int = 1) -> Any: ...
    def close(self) -> Any: ...


def validated(items: Iterable[BatchItem], model: type[RequestBase]) -> Iterator[Entry]:
    """``(index, request)`` for each entry, validated as it is pulled."""
    for index, item in enumerate(items):
        if isinstance(item, model):
            yield index, item
        elif isinstance(item, Mapping):
            try:
                request = model(**item)
            except ValueError as exc:  # pydantic's ValidationError: say which entry
                _note(exc, f"in entry {index} of the batch (counting from 0)")
                raise
            yield index, request
        else:
            raise TypeError(
                f"batch entries must be {model.__name__} or dict, got {type(item).__name__} "
                f"at entry {index}"
            )


def as_requests(items: Iterable[BatchItem], model: type[RequestBase]) -> list[RequestBase]:
    """Validate every entry up front, so that a bad one fails before any is sent."""
    return [request for _, request in validated(items, model)]


def _note(error: BaseException, note: str) -> None:
    # Shown under the error's message in tracebacks (PEP 678, Python 3.11+); on 3.10 the
    # note is kept in __notes__ all the same.
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:
        setattr(error, "__notes__", [*getattr(error, "__notes__", ()), note])  # noqa: B010


def progress_bar(enabled: bool, total: int) -> Progress | None:
    """A tqdm bar when asked for; tqdm is optional, imported only then."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:
        raise ImportError(
            "progress=True needs tqdm: install the progress extra from a checkout, "
            "pip install '/path/to/completions-sdk[progress]'"
        ) from exc
    bar: Progress = tqdm(total=total, unit="req")
    return bar


def iter_completed(
    send: Callable[[RequestBase], ReplyT],
    entries: Iterator[Entry],
    concurrency: int,
    *,
    return_exceptions: bool,
) -> Generator[tuple[int, ReplyT | CompletionsError], None, None]:
    """Send on a thread pool; yield ``(index, reply or SDK error)`` as each ends.

    Without ``return_exceptions`` the first SDK error is raised. Closing the iterator
    early (an error raised, Ctrl-C) abandons the calls in flight instead of waiting for
    them: their connections are closed, nothing is retried.
    """
    pending: dict[concurrent.futures.Future[ReplyT], int] = {}
    calls = Abandon()
    pool = concurrent.futures.ThreadPoolExecutor(concurrency, "completions-batch")
    try:
        while True:
            for index, request in _take(entries, concurrency - len(pending)):
                pending[pool.submit(calls.run, send, request)] = index
            if not pending:
                return
            done, _ = concurrent.futures.wait(pending, return_when="FIRST_COMPLETED")
            for future in done:
                index = pending.pop(future)
                outcome = _outcome(index, future, return_exceptions)
                yield index, outcome
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if pending:
            calls.abandon()


async def aiter_completed(
    send: Callable[[RequestBase], Awaitable[ReplyT]],
    entries: Iterator[Entry],
    concurrency: int,
    *,
    return_exceptions: bool,
) -> AsyncGenerator[tuple[int, ReplyT | CompletionsError], None]:
    """Send as tasks; yield ``(index, reply or SDK error)`` as each ends."""
    pending: dict[asyncio.Future[ReplyT], int] = {}
    try:
        while True:
            for index, request in _take(entries, concurrency - len(pending)):
                pending[asyncio.ensure_future(send(request))] = index
            if not pending:
                return
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                index = pending.pop(task)
                outcome = _outcome(index, task, return_exceptions)
                yield index, outcome
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def _take(entries: Iterator[Entry], count: int) -> list[Entry]:
    return [entry for _, entry in zip(range(count), entries, strict=False)]


def _outcome(
    index: int,
    future: concurrent.futures.Future[ReplyT] | asyncio.Future[ReplyT],
    return_exceptions: bool,
) -> ReplyT | CompletionsError:
    # Only the SDK's own errors are captured; a bug or an interrupt propagates.
    error = future.exception()
    if error is None:
        return future.result()
    if isinstance(error, CompletionsError) and return_exceptions:
        return error
    if isinstance(error, CompletionsError):
        _note(error, f"raised by entry {index} of the batch (counting from 0)")
    raise error


def check_concurrency(concurrency: int) -> None:
    """Raise unless ``concurrency`` is a positive int."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")


class BatchResults:
    """Validates a whole batch first, shows its progress, and keeps outcomes in input order."""

    def __init__(self, items: Iterable[BatchItem], model: type[RequestBase], *, progress: bool):
        self.requests = as_requests(items, model)
        self._outcomes: list[Any] = [None] * len(self.requests)
        self._bar = progress_bar(progress, len(self.requests))

    def add(self, index: int, outcome: Any) -> None:
        """Record one outcome."""
        self._outcomes[index] = outcome
        if self._bar is not None:
            self._bar.update()

    def close(self) -> None:
        """Close the progress bar."""
        if self._bar is not None:
            self._bar.close()

    @property
    def outcomes(self) -> list[Any]:
        """Every outcome, in input order."""
        return self._outcomes
