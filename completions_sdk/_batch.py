"""Many requests with bounded concurrency: results in input order, failures captured.

Every request is validated before the first one is sent. The sync runner uses a thread
pool (``httpx.Client`` is thread-safe), the async one a window of tasks;
both keep at most ``concurrency`` requests in flight and yield ``(index, result)`` as
results arrive; ``BatchResults`` puts them back in order.
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
from typing import Any, Protocol

from ._cancel import Abandon
from ._exceptions import CompletionsError
from ._models import Completion
from ._request import CompletionRequest

__all__ = ["BatchItem", "BatchResults", "aiter_completed", "iter_completed"]

BatchItem = CompletionRequest | Mapping[str, Any]
"""A batch entry: a ``CompletionRequest`` or a mapping of its fields."""
Outcome = Completion | CompletionsError


class Progress(Protocol):
    """What a progress bar must offer (``tqdm`` does)."""

    def update(self, n: int = 1) -> Any: ...
    def close(self) -> Any: ...


def as_requests(items: Iterable[BatchItem]) -> list[CompletionRequest]:
    """Validate every entry up front, so that a bad one fails before any is sent."""
    requests = []
    for index, item in enumerate(items):
        if isinstance(item, CompletionRequest):
            requests.append(item)
        elif isinstance(item, Mapping):
            try:
                requests.append(CompletionRequest(**item))
            except ValueError as exc:  # pydantic's ValidationError: say which entry
                _note(exc, f"in entry {index} of the batch (counting from 0)")
                raise
        else:
            raise TypeError(
                f"batch entries must be CompletionRequest or dict, got {type(item).__name__} "
                f"at entry {index}"
            )
    return requests


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
    send: Callable[[CompletionRequest], Completion],
    requests: list[CompletionRequest],
    concurrency: int,
) -> Generator[tuple[int, Outcome], None, None]:
    """Send on a thread pool; yield ``(index, completion or SDK error)`` as each ends.

    Closing the iterator early (an error raised, Ctrl-C) abandons the calls in flight
    instead of waiting for them: their connections are closed, nothing is retried.
    """
    _check_concurrency(concurrency)
    pending: dict[concurrent.futures.Future[Completion], int] = {}
    queue = iter(enumerate(requests))
    calls = Abandon()
    pool = concurrent.futures.ThreadPoolExecutor(concurrency, "completions-batch")

    def submit(count: int) -> None:
        for index, request in _take(queue, count):
            pending[pool.submit(calls.run, send, request)] = index

    try:
        submit(concurrency)
        while pending:
            done, _ = concurrent.futures.wait(pending, return_when="FIRST_COMPLETED")
            for future in done:
                yield pending.pop(future), _outcome(future)
                submit(1)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        if pending:
            calls.abandon()


async def aiter_completed(
    send: Callable[[CompletionRequest], Awaitable[Completion]],
    requests: list[CompletionRequest],
    concurrency: int,
) -> AsyncGenerator[tuple[int, Outcome], None]:
    """Send as tasks; yield ``(index, completion or SDK error)`` as each ends."""
    _check_concurrency(concurrency)
    pending: dict[asyncio.Task[Completion], int] = {}
    queue = iter(enumerate(requests))
    try:
        for index, request in _take(queue, concurrency):
            pending[asyncio.ensure_future(send(request))] = index
        while pending:
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield pending.pop(task), _outcome(task)
                for index, request in _take(queue, 1):
                    pending[asyncio.ensure_future(send(request))] = index
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def _take(
    queue: Iterator[tuple[int, CompletionRequest]], count: int
) -> list[tuple[int, CompletionRequest]]:
    return [entry for _, entry in zip(range(count), queue, strict=False)]


def _outcome(future: concurrent.futures.Future[Completion] | asyncio.Future[Completion]) -> Outcome:
    # Only the SDK's own errors are captured; a bug or an interrupt propagates.
    error = future.exception()
    if error is None:
        return future.result()
    if isinstance(error, CompletionsError):
        return error
    raise error


def _check_concurrency(concurrency: int) -> None:
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")


class BatchResults:
    """Validates a batch, shows its progress, and puts outcomes back in input order."""

    def __init__(
        self, items: Iterable[BatchItem], *, progress: bool, return_exceptions: bool
    ) -> None:
        self.requests = as_requests(items)
        self._return_exceptions = return_exceptions
        self._outcomes: list[Outcome | None] = [None] * len(self.requests)
        self._bar = progress_bar(progress, len(self.requests))

    def add(self, index: int, outcome: Outcome) -> None:
        """Record one outcome; an SDK error is raised unless errors are being captured."""
        if isinstance(outcome, CompletionsError) and not self._return_exceptions:
            _note(outcome, f"raised by entry {index} of the batch (counting from 0)")
            raise outcome
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
