"""Serving the emulator: in a background thread for tests, or in the foreground for the CLI."""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from typing_extensions import Self

try:
    import uvicorn
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "completions_sdk.emulator needs Starlette and uvicorn: "
        "pip install 'completions-sdk[emulator]'"
    ) from exc

from ._app import CHAT_PATH, COMPLETIONS_PATH, build_app, create_app
from ._config import Deployment, EmulatorConfig
from ._faults import Faults
from ._quota import Quota
from ._recording import ReplyLog, RequestLog
from ._state import EmulatorState

__all__ = ["EmulatorServer", "serve"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
_POLL_INTERVAL = 0.005


class EmulatorServer:
    """The emulator on a free loopback port, served by uvicorn in a background thread.

    Examples:
        >>> with EmulatorServer() as emulator:
        ...     client = Client(
        ...         api_key=emulator.api_key, deployment=emulator.deployment, base_url=emulator.url
        ...     )
        ...     emulator.set_faults("status=429;times=1;retry_after=0")
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare a server; nothing listens until ``start()``.

        Args:
            config: what to accept and how to behave (default: ``EmulatorConfig()``).
            host: a loopback address: ``127.0.0.1``, ``::1`` or ``localhost``.
            port: the port to listen on; ``0`` picks a free one.
            startup_timeout: seconds ``start()`` waits for the server to listen.
            clock: seconds on the clock that quotas and ``replies`` read; pass your own
                to make retry waits exact in a test.

        Raises:
            ValueError: ``host`` is not a loopback address.
        """
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"EmulatorServer listens on loopback only, not on {host!r}")
        self._host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self._startup_timeout = startup_timeout
        self._state = EmulatorState(config or EmulatorConfig(), clock=clock)
        self._app = build_app(self._state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:51234`` (the endpoint is under it)."""
        if self._bound_port is None:
            raise RuntimeError("The emulator is not running: call start() first")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._bound_port}"

    @property
    def completions_url(self) -> str:
        """The full URL of ``POST /ai-proxy/completions``."""
        return self.url + COMPLETIONS_PATH

    @property
    def chat_url(self) -> str:
        """The full URL of ``POST /ai-proxy/chat/completions``."""
        return self.url + CHAT_PATH

    @property
    def api_key(self) -> str:
        """An API key the emulator accepts (the configuration's first)."""
        return self._state.config.api_key

    @property
    def deployment(self) -> str:
        """A deployment the emulator serves (the configuration's first)."""
        return self._state.config.deployment

    @property
    def config(self) -> EmulatorConfig:
        """The configuration in force, run-time changes included."""
        return self._state.config

    @property
    def requests(self) -> RequestLog:
        """The requests received so far (API keys redacted), oldest first."""
        return self._state.requests

    @property
    def replies(self) -> ReplyLog:
        """How each request to an endpoint was answered: time, deployment, status."""
        return self._state.replies

    @property
    def is_running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> Self:
        """Listen and serve in a background thread; returns once connections are accepted.

        Raises:
            RuntimeError: already started, or the server did not come up in time.
        """
        if self._thread is not None:
            raise RuntimeError("The emulator was already started")
        sock = _bind(self._host, self._port)
        self._bound_port = sock.getsockname()[1]
        server = uvicorn.Server(_uvicorn_config(self._app))
        self._server = server
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [sock]},
            name=f"emulator-{self._bound_port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                sock.close()
                raise RuntimeError("The emulator did not start (see the log for uvicorn's error)")
            time.sleep(_POLL_INTERVAL)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the thread to end (streams in flight are cut).

        Raises:
            RuntimeError: the thread did not end within ``timeout`` seconds.
        """
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout / 2)
        if thread.is_alive():
            server.force_exit = True  # stop waiting for open connections
            thread.join(timeout / 2)
        if thread.is_alive():
            raise RuntimeError(f"The emulator thread did not stop within {timeout} s")
        self._server = self._thread = None
        self._bound_port = None

    def set_faults(self, faults: Faults | str | None, *, deployment: str | None = None) -> None:
        """Script the faults every request to a deployment suffers (``None`` clears them).

        Args:
            faults: ``Faults``, or the ``X-Emulator-Fault`` grammar
                (e.g. ``"status=429;times=2;retry_after=0"``).
            deployment: which deployment (default: ``self.deployment``). Its fault
                counts start again from zero.

        Raises:
            KeyError: no such deployment.
            ValueError: ``faults`` is a string that does not parse.
        """
        self._state.set_faults(deployment or self.deployment, faults)

    def set_quota(
        self,
        quota: Quota | None,
        *,
        deployment: str | None = None,
        latency_ms: int | None = None,
    ) -> None:
        """Limit a deployment (``None``: unlimited); its buckets start full.

        Raises:
            KeyError: no such deployment.
        """
        self._state.set_quota(deployment or self.deployment, quota, latency_ms)

    def set_guardrails(
        self,
        *,
        deployment: str | None = None,
        blocked_keywords: tuple[str, ...] | list[str] | None = None,
        injection_patterns: tuple[str, ...] | list[str] | None = None,
        block_output: bool | None = None,
    ) -> None:
        """Change a deployment's guardrails; arguments left as ``None`` are kept.

        Raises:
            KeyError: no such deployment.
            pydantic.ValidationError: a blank keyword or a bad regular expression.
        """
        changes: dict[str, Any] = {
            "blocked_keywords": blocked_keywords,
            "injection_patterns": injection_patterns,
            "block_output": block_output,
        }
        self._state.set_guardrails(
            deployment or self.deployment,
            **{name: value for name, value in changes.items() if value is not None},
        )

    def add_deployment(self, name: str, deployment: Deployment | None = None) -> None:
        """Serve one more deployment (default settings unless given), until ``reset()``."""
        self._state.add_deployment(name, deployment or Deployment())

    def reset(self) -> None:
        """Back to the initial configuration: no fault counts, full buckets, nothing recorded."""
        self._state.reset()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._bound_port is not None else "not started"
        return f"EmulatorServer({where}, deployment={self.deployment!r})"


def _uvicorn_config(app: Any) -> uvicorn.Config:
    # uvicorn logs the streams it cancels at shutdown as errors; with no handler anywhere,
    # Python's last-resort handler would print them as tracebacks. A NullHandler keeps
    # them out of a program that configured no logging; one that did still gets them.
    error_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(h, logging.NullHandler) for h in error_log.handlers):
        error_log.addHandler(logging.NullHandler())
    return uvicorn.Config(
        app,
        lifespan="off",
        ws="none",
        # Leave the host application's logging alone: no dictConfig, no handlers of ours.
        log_config=None,
        access_log=False,
        # Bound the wait for open streams when stopping; they are then cancelled.
        timeout_graceful_shutdown=1,
    )


def serve(host: str = "127.0.0.1", port: int = 8080, config: EmulatorConfig | None = None) -> None:
    """Serve the emulator in the foreground until interrupted (``completions-sdk emulator``).

    Args:
        host: the address to listen on; keep the loopback default unless you mean to let
            other machines in (the emulator accepts fixed test keys).
        port: the port to listen on.
        config: what to accept and how to behave (default: ``EmulatorConfig()``).
    """
    config = config or EmulatorConfig()
    sock = _bind(host, port)  # a port already taken fails here, before the banner
    print(_banner(host, sock.getsockname()[1], config), file=sys.stderr, flush=True)
    app = create_app(config)
    uvicorn.Server(uvicorn.Config(app, lifespan="off", ws="none")).run(sockets=[sock])


def _banner(host: str, port: int, config: EmulatorConfig) -> str:
    """A foreground command's banner: the lines to paste into the shell of a client."""
    # The base URL, not the endpoint's: the client appends /ai-proxy/completions itself.
    # A wildcard address listens on loopback too, and is not an address to connect to.
    connect = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    address = f"[{connect}]" if ":" in connect else connect
    others = [name for name in config.deployments if name != config.deployment]
    also = f" (also serves: {', '.join(others)})" if others else ""
    return (
        f"Emulating the AI Completions Proxy ({COMPLETIONS_PATH} and {CHAT_PATH}) "
        f"on {host}:{port}. Point a client at it with:\n"
        f"  export ENKRYPTAI_BASE_URL=http://{address}:{port}\n"
        f"  export ENKRYPTAI_API_KEY={config.api_key}\n"
        f"  export ENKRYPTAI_DEPLOYMENT={config.deployment}{also}"
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must be named: asyncio disables Nagle's algorithm on accepted connections
    # only when it is IPPROTO_TCP, and with Nagle each small reply waits ~40 ms for
    # the client's delayed ACK.
    if not 0 <= port <= 65535:  # bind() would raise OverflowError, not OSError
        raise ValueError(f"cannot listen on {host}:{port}: a port is 0-65535 (0: any free one)")
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock
