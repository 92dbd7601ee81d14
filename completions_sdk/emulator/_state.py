"""The emulator's mutable state, shared by the server thread and the test thread.

The configuration itself is immutable: a change builds a new ``EmulatorConfig`` and swaps
it in under a lock, so a request in flight always sees one consistent configuration.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ._config import Deployment, EmulatorConfig
from ._faults import FaultCounter, Faults
from ._quota import Quota, QuotaBook
from ._recording import ReplyLog, RequestLog

__all__ = ["EmulatorState"]


class EmulatorState:
    """Configuration (changeable at run time), fault counts, quotas, requests and replies.

    ``clock`` gives the time in seconds that quotas and recorded replies read
    (``time.monotonic`` by default; a test may pass its own to make them exact).
    """

    def __init__(
        self, config: EmulatorConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._initial = config
        self._config = config
        self._lock = threading.Lock()
        self.clock = clock
        self.counter = FaultCounter()
        self.quotas = QuotaBook()
        self.requests = RequestLog()
        self.replies = ReplyLog()

    @property
    def config(self) -> EmulatorConfig:
        """The configuration now in force."""
        return self._config

    def set_faults(self, deployment: str, faults: Faults | str | None) -> None:
        """Replace a deployment's default faults (``None`` clears them); resets its counts."""
        if isinstance(faults, str):
            faults = Faults.parse(faults)
        self._update(deployment, faults=faults or Faults())
        self.counter.clear(deployment)

    def set_quota(self, deployment: str, quota: Quota | None, latency_ms: int | None) -> None:
        """Replace a deployment's quota (``None``: unlimited), and its latency if given."""
        changes: dict[str, Any] = {"quota": quota}
        if latency_ms is not None:
            changes["latency_ms"] = latency_ms
        self._update(deployment, **changes)
        self.quotas.clear(deployment)

    def set_guardrails(self, deployment: str, **changes: Any) -> None:
        """Change some of a deployment's guardrail settings (validated)."""
        self._update(deployment, **changes)

    def add_deployment(self, name: str, deployment: Deployment) -> None:
        """Serve one more deployment (until ``reset()``)."""
        with self._lock:
            deployments = {**self._config.deployments, name: deployment}
            self._config = self._config.model_copy(update={"deployments": deployments})

    def reset(self) -> None:
        """Back to the initial configuration: no counts, full buckets, nothing recorded."""
        with self._lock:
            self._config = self._initial
        self.counter.clear()
        self.quotas.clear()
        self.requests.clear()
        self.replies.clear()

    def _update(self, name: str, **changes: Any) -> None:
        with self._lock:
            current = self._config.deployments.get(name)
            if current is None:
                known = ", ".join(sorted(self._config.deployments))
                raise KeyError(f"no deployment {name!r} (known: {known}); see add_deployment()")
            # Validate the merged fields: model_copy(update=...) would skip every check.
            updated = Deployment.model_validate({**current.model_dump(), **changes})
            deployments = {**self._config.deployments, name: updated}
            self._config = self._config.model_copy(update={"deployments": deployments})
