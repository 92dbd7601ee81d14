"""Scripted faults: what a request suffers instead of (or on its way to) a normal reply.

The same ``Faults`` come from a deployment's configuration or, per request, from the
``X-Emulator-Fault`` header, written in a small grammar::

    X-Emulator-Fault: status=429;times=2;retry_after=0
    X-Emulator-Fault: status=503;rate=0.05;seed=7

that is ``key=value`` pairs separated by ``;`` (spaces around either are ignored), with the
keys and values of ``Faults``' fields. An empty header means "no fault" and so switches
a deployment's faults off for that one request.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["FAULT_HEADER", "FaultCounter", "Faults"]

FAULT_HEADER = "X-Emulator-Fault"


class Faults(BaseModel):
    """Faults to inject, per deployment or per request (``X-Emulator-Fault``).

    With nothing set, requests are answered normally. Several keys combine: the delay
    comes first, then an error ``status`` (which wins over the stream cuts).

    Examples:
        >>> Faults.parse("status=429; times=2; retry_after=0").spec()
        'status=429;times=2;retry_after=0'
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    status: Annotated[int, Field(ge=400, le=599)] | None = None
    """Answer this error status (with a JSON error body) instead of a completion."""
    times: Annotated[int, Field(ge=1)] | None = None
    """Only the first ``times`` requests with these faults suffer them (default: all)."""
    rate: Annotated[float, Field(ge=0, le=1)] | None = None
    """Only this fraction of the requests suffer them (default: all), drawn from ``seed``."""
    seed: int = 0
    """Seeds the ``rate`` draws: the k-th request with these faults always draws the same."""
    retry_after: Annotated[float, Field(ge=0)] | None = None
    """Send ``Retry-After`` with this many seconds on a ``status`` reply."""
    retry_after_ms: Annotated[int, Field(ge=0)] | None = None
    """Send ``retry-after-ms`` with this many milliseconds on a ``status`` reply."""
    x_should_retry: bool | None = None
    """Send ``x-should-retry: true`` or ``false`` on a ``status`` reply."""
    first_byte_delay: Annotated[float, Field(ge=0, le=60)] = 0.0
    """Seconds to wait before sending the status line (to exercise read timeouts)."""
    token_delay: Annotated[float, Field(ge=0, le=10)] | None = None
    """Seconds between streamed events, overriding ``EmulatorConfig.token_delay``."""
    drop_after: Annotated[int, Field(ge=0)] | None = None
    """Cut the connection abruptly after this many stream events, before ``[DONE]``.

    A non-streamed reply is cut after its headers, whatever the number.
    """
    end_after: Annotated[int, Field(ge=0)] | None = None
    """End a streamed body cleanly after this many events, without ``[DONE]``."""

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """Faults from the ``X-Emulator-Fault`` grammar, e.g. ``"status=503;times=1"``.

        Raises:
            ValueError: a pair without ``=``, an unknown key or a bad value; the message
                names the key.
        """
        pairs: dict[str, str] = {}
        for part in spec.split(";"):
            if not part.strip():
                continue
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"{part.strip()!r} is not a key=value pair")
            pairs[key.strip()] = value.strip()
        try:
            return cls.model_validate(pairs)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            key = ".".join(str(part) for part in error["loc"]) or "faults"
            raise ValueError(f"{key}: {error['msg']}") from None

    def spec(self) -> str:
        """The canonical ``X-Emulator-Fault`` form: set keys only, in field order."""
        values = self.model_dump(exclude_defaults=True)
        return ";".join(f"{key}={_format(value)}" for key, value in values.items())

    @property
    def is_empty(self) -> bool:
        """Whether these faults change nothing."""
        return not self.model_dump(exclude_defaults=True, exclude={"times", "rate", "seed"})

    def __str__(self) -> str:
        return self.spec()


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class FaultCounter:
    """Counts requests per fault key, so that ``times`` can be honoured across threads.

    The key is the deployment with the canonical fault spec, so ``times=2;status=429``
    and ``status=429;times=2`` share one count, while other deployments or other faults
    count on their own. With a ``rate``, the k-th request of a key is hit when the k-th
    draw of ``seed`` falls under it (a hash, not a shared generator: the same k always
    draws the same), and ``times`` counts the requests hit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._seen: dict[tuple[str, str], int] = {}

    def take(self, deployment: str, faults: Faults) -> bool:
        """Count one request; whether it suffers the faults (drawn, among the first hit)."""
        key = (deployment, faults.spec())
        with self._lock:
            seen = self._seen.get(key, 0) + 1
            self._seen[key] = seen
            if faults.rate is not None and _draw(faults.seed, seen) >= faults.rate:
                return False
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        return faults.times is None or count <= faults.times

    def clear(self, deployment: str | None = None) -> None:
        """Forget the counts (of one deployment, or of all)."""
        with self._lock:
            for counts in (self._counts, self._seen):
                for key in [key for key in counts if deployment in (None, key[0])]:
                    del counts[key]


def _draw(seed: int, number: int) -> float:
    """The ``number``-th draw of ``seed``, uniform in [0, 1), the same in every process."""
    digest = hashlib.blake2b(f"{seed}:{number}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
