"""One quota for a whole Ray job: a named actor keeps the schedule, workers lease slots.

``QuotaSchedule`` (run as a Ray actor, one per job and rate) hands out send times (on the
wall clock, the one clock all nodes share) spaced
by the quota: ``max(60 / requests_per_minute, tokens / (tokens_per_minute / 60))``
seconds apart, as one timeline, so no one-second window ever holds more than the rate
allows, whichever worker sends. A worker's ``SharedLimiter`` leases a few slots at a time
(about ``LEASE_SECONDS`` of the job's rate) and fetches the next lease while it spends
the last, so a send is not a round trip to the schedule. A 429 reported by any worker
pauses the schedule; the others see the pause at their next lease, within
``LEASE_SECONDS``.

The schedule is a detached actor that ends itself once unused for ``IDLE_SECONDS``: no
worker owns it, so none can end it for the others by exiting (Ray Data stops a job's
actors one by one) or by letting go of its handle (a non-detached named actor dies with
its creator's handle, whatever other workers hold), and it never outlives its use.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

from ._quota import LATE, Limiter, RateLimit

__all__ = ["LEASE_SECONDS", "QuotaSchedule", "SharedLimiter", "schedule_actor"]

LEASE_SECONDS = 0.25
"""How much of the job's rate one lease holds: the most a worker sends after a pause."""
DEFAULT_PAUSE = 1.0  # seconds, after a 429 without Retry-After
IDLE_SECONDS = 120.0
"""A schedule no worker asked for anything this long ends itself (its job is over)."""
_DEAD = frozenset({"ActorDiedError", "RayActorError", "ActorUnavailableError"})


class QuotaSchedule:
    """The job's send schedule; plain Python, made a Ray actor by ``schedule_actor``."""

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None) -> None:
        """A schedule for these rates (``None``: that one is not limited)."""
        self._request_gap = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._token_rate = tokens_per_minute / 60.0 if tokens_per_minute else None
        self._next = time.time()
        self._credit = 0.0  # tokens estimated too high, given back to later leases
        self.leases = 0
        self.pauses = 0
        self.last_call = time.monotonic()

    def lease(self, requests: int, tokens: int, owed: int = 0) -> tuple[float, float]:
        """Reserve ``requests`` sends of ``tokens`` in all, after ``owed`` tokens of
        under-estimates (negative: over-estimates) from earlier sends.

        Returns:
            when the first send may go (``time.time()``: a wall clock, the one clock every
            node shares, to NTP's milliseconds), and seconds between sends.
        """
        now = time.time()
        self.leases += 1
        self.last_call = time.monotonic()
        gap = self._request_gap
        if self._token_rate is not None:
            if owed > 0:  # sends that used more than estimated push the schedule back
                self._next = max(self._next, now) + owed / self._token_rate
            else:
                self._credit -= owed
            given_back = min(self._credit, tokens)
            self._credit -= given_back
            gap = max(gap, (tokens - given_back) / requests / self._token_rate)
        start = max(now, self._next)
        self._next = start + gap * requests
        return start, gap

    def throttled(self, retry_after: float | None) -> None:
        """The server said 429: no slot before ``retry_after`` seconds from now."""
        self.pauses += 1
        self.last_call = time.monotonic()
        pause = DEFAULT_PAUSE if retry_after is None else retry_after
        self._next = max(self._next, time.time() + pause)

    def stats(self) -> dict[str, int]:
        """How many leases were taken and pauses asked for (for tests and benchmarks)."""
        self.last_call = time.monotonic()
        return {"leases": self.leases, "pauses": self.pauses}


class _DetachedSchedule(QuotaSchedule):
    """``QuotaSchedule`` as a detached Ray actor: it ends itself when left unused."""

    def __init__(
        self,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        idle_seconds: float,
    ) -> None:
        super().__init__(requests_per_minute, tokens_per_minute)
        watcher = threading.Thread(target=self._end_when_idle, args=(idle_seconds,), daemon=True)
        watcher.start()

    def _end_when_idle(self, idle_seconds: float) -> None:
        import ray

        while time.monotonic() - self.last_call < idle_seconds:
            time.sleep(min(idle_seconds / 4, 5.0))
        # Intentional: not restarted, and its name is free for a new one.
        ray.actor.exit_actor()  # type: ignore[no-untyped-call]


def schedule_actor(
    requests_per_minute: float | None,
    tokens_per_minute: float | None,
    idle_seconds: float = IDLE_SECONDS,
) -> Any:
    """The ``QuotaSchedule`` actor for these rates: found, or made if first.

    Named for the driver (Ray's job id) and the rates, in the ``SCHEDULE_NAMESPACE``
    namespace (a detached actor in the driver's anonymous one makes Ray log a warning): the
    jobs of one driver share it (one key, one quota), two drivers never do. Detached, so no
    worker's exit or dropped handle ends it; it ends itself after ``idle_seconds`` unused.
    Should a dead schedule still hold the name (a lost node), every worker walks the same
    generations of the name (``...:0``, ``...:1``) and takes the first one alive, made
    atomically by whoever asks first, so the workers of one job still share one schedule.
    """
    import ray

    driver = ray.get_runtime_context().get_job_id()
    base = f"quota:{driver}:{requests_per_minute}:{tokens_per_minute}"
    remote = ray.remote(num_cpus=0, max_restarts=-1)(_DetachedSchedule)
    for generation in range(MAX_GENERATIONS):
        handle: Any = remote.options(
            name=f"{base}:{generation}",
            namespace=SCHEDULE_NAMESPACE,
            get_if_exists=True,
            lifetime="detached",
        ).remote(requests_per_minute, tokens_per_minute, idle_seconds)
        try:
            ray.get(handle.stats.remote(), timeout=SCHEDULE_TIMEOUT)
        except Exception as error:
            if type(error).__name__ not in _DEAD:
                raise
            continue  # the name is held by a dead schedule: the next generation
        return handle
    raise RuntimeError(f"no live quota schedule under {base!r} after {MAX_GENERATIONS} tries")


SCHEDULE_NAMESPACE = "completions_sdk"
MAX_GENERATIONS = 16
SCHEDULE_TIMEOUT = 60.0  # seconds for a schedule to answer its first call (a busy cluster)


class SharedLimiter(Limiter):
    """A worker's side of the job's quota: the ``Limiter`` its client's sends go through.

    Thread-safe. ``reserve`` takes a leased slot; it waits for the schedule (``ray.get``)
    only when none is at hand, which ``prefetch``, awaited before each send, makes rare.
    The client's own machinery does the rest: a 429 pauses this worker at once and the
    whole job at its next lease; the reply's ``usage`` settles the token estimate.
    """

    def __init__(
        self,
        schedule: Any,
        requests_per_second: float,
        *,
        get: Callable[[Any], Any] | None = None,
        reconnect: Callable[[], Any] | None = None,
    ) -> None:
        """Lease from ``schedule`` (an actor handle) about ``LEASE_SECONDS`` of the rate.

        ``get`` reads an answer (default: ``ray.get``); ``reconnect`` finds or makes the
        schedule again when it ended (left unused past ``IDLE_SECONDS``, a lost node).
        """
        # Adaptive, with no buckets of its own: the client's 429s come here (a pause of
        # this worker and of the schedule); the pace is the schedule's.
        super().__init__(RateLimit(adaptive=True))
        self._schedule = schedule
        self._size = max(1, min(16, round(requests_per_second * LEASE_SECONDS)))
        self._slots: collections.deque[float] = collections.deque()
        self._pending: _Lease | None = None  # the next lease, asked for ahead
        self._owed = 0
        self._lock = threading.Lock()
        self._get = get or _ray_get
        self._reconnect = reconnect

    def reserve(self, tokens: int) -> float:
        """Take a slot for one send of about ``tokens``; seconds to wait before sending
        (none for a slot already due, at most ``LATE`` ago: later ones are dropped)."""
        return max(0.0, self._take(tokens) - time.time())

    async def prefetch(self, tokens: int) -> None:
        """Have a slot at hand, awaiting a lease without blocking the event loop.

        Awaited by the worker's send loop just before a call: the client's ``reserve``
        that follows, with no suspension in between, then takes the slot at once.
        """
        while True:
            with self._lock:
                self._drop_stale()
                if self._slots:
                    return
                lease = self._pending = self._pending or self._ask(tokens)
            try:
                answer = await lease.ref
            except Exception as error:
                answer = self._recover(error, lease, tokens)
            with self._lock:
                if self._pending is lease:
                    self._pending = None
                    self._add(answer)

    def _take(self, tokens: int) -> float:
        with self._lock:
            self._drop_stale()
            while not self._slots:
                lease = self._pending or self._ask(tokens)
                self._pending = None
                try:
                    answer = self._get(lease.ref)
                except Exception as error:
                    answer = self._recover(error, lease, tokens)
                self._add(answer)
                self._drop_stale()
            slot = self._slots.popleft()
            if len(self._slots) <= self._size // 2 and self._pending is None:
                self._pending = self._ask(tokens)  # the next lease, while this one lasts
        return slot

    def correct(self, estimated: int, used: int) -> None:
        """Usage known: the difference rides along with the next lease."""
        with self._lock:
            self._owed += used - estimated

    def release(self, tokens: int) -> None:
        """A slot taken but not used (its call ran out of time): it is let go."""

    def throttled(self, retry_after: float | None, sent_at: float | None = None) -> None:
        """A 429: pause this worker now, and the whole job's schedule from its next lease."""
        with self._lock:
            self._slots.clear()
            pause = DEFAULT_PAUSE if retry_after is None else retry_after
            self._pause_until = max(self._pause_until, self._clock() + pause)
        self._schedule.throttled.remote(retry_after)  # no wait: the next lease sees it

    def succeeded(self) -> None:
        """Nothing to learn: the pace is the schedule's."""

    def _ask(self, tokens: int) -> _Lease:
        owed, self._owed = self._owed, 0
        return _Lease(self._schedule.lease.remote(self._size, tokens * self._size, owed))

    def _recover(self, error: Exception, lease: _Lease, tokens: int) -> Any:
        """The schedule died: find or make it again, once, and ask it anew."""
        if self._reconnect is None or type(error).__name__ not in _DEAD:
            raise error
        self._schedule = self._reconnect()
        fresh = self._ask(tokens)
        if self._pending is lease:
            self._pending = fresh
        return self._get(fresh.ref)

    def _add(self, answer: tuple[float, float]) -> None:
        # Slots in the schedule's own (wall) clock: a lease read late, or answered after
        # a slow trip, keeps its place in the job's timeline, neither early nor late.
        first, gap = answer
        self._slots.extend(first + gap * index for index in range(self._size))

    def _drop_stale(self) -> None:
        limit = time.time() - LATE  # not used in time: dropped, never sent in a bunch
        while self._slots and self._slots[0] < limit:
            self._slots.popleft()


class _Lease:
    """A lease asked for: the schedule's answer to come."""

    __slots__ = ("ref",)

    def __init__(self, ref: Any) -> None:
        self.ref = ref


def _ray_get(ref: Any) -> Any:
    import ray

    return ray.get(ref)
