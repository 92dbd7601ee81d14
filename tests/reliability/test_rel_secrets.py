"""The API key never shows: not in a repr, a log record (every logger at DEBUG, httpx and
httpcore included), an exception or a traceback, over real sockets, through retries, errors
and streams, even when the server echoes it back. Sync and async run each body.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from completions_sdk import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    CompletionsError,
    ConfigurationError,
    GuardrailViolation,
    IncompleteStreamError,
    InternalServerError,
)
from tests._support import API_KEY, fixture_json
from tests.reliability._behaviours import event, hang, json_reply, reflect, reset, sse_reply
from tests.reliability._drive import MODES, Mode, chunk, completion, receive
from tests.reliability._server import Behaviour, FaultServer

# ---------------------------------------------------------------- the key never shows


@pytest.fixture
def all_logs() -> Iterator[list[str]]:
    """The text of every log record, every logger at DEBUG, tracebacks included."""
    texts: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            texts.extend([self.format(record), repr(record.msg), repr(record.args)])

    handler = Keep(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    names = {*logging.root.manager.loggerDict, "httpx", "httpcore", "completions_sdk"}
    loggers = [logging.getLogger(), *map(logging.getLogger, sorted(names))]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is logging.getLogger() or not logger.propagate:
            logger.addHandler(handler)
    try:
        yield texts
    finally:
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(handler)


def texts_of(error: BaseException) -> list[str]:
    """Everywhere an exception shows itself: str, repr, args, the formatted traceback."""
    return [str(error), repr(error), repr(error.args), "".join(traceback.format_exception(error))]


def assert_no_key(texts: list[str]) -> None:
    leaks = [text for text in texts if API_KEY in text]
    assert not leaks, f"the API key shows in: {leaks[0][:300]!r}"


def _echo_key(make: Callable[[str], Behaviour]) -> Behaviour:
    """A hostile (or debugging) server that puts the key it received into its answer."""
    return reflect(lambda request: make(request.headers["apikey"]))


STREAM = [event(chunk(" Once")), event(chunk(" upon"))]
SHORT = httpx.Timeout(5.0, read=0.2)
SCENARIOS: dict[str, tuple[list[Behaviour], Mode, type[CompletionsError] | None]] = {
    "retried-then-ok": (
        [json_reply({"error": "busy"}, 503), json_reply(completion(" ok"))],
        "complete",
        None,
    ),
    "resets": ([reset()], "complete", APIConnectionError),
    "read-timeout": ([hang()], "stream", APITimeoutError),
    "key-echoed-in-401": (
        [_echo_key(lambda key: json_reply({"error": {"message": f"bad key {key}"}}, 401))],
        "complete",
        AuthenticationError,
    ),
    "key-echoed-in-503": (
        [_echo_key(lambda key: json_reply({"error": f"{{'message': 'no {key}'}}"}, 503))],
        "complete",
        InternalServerError,
    ),
    "key-echoed-in-a-guardrail-block": (
        [
            _echo_key(
                lambda key: json_reply(
                    {**fixture_json("blocked-by-input-guardrails.json"), "message": key}, 400
                )
            )
        ],
        "complete",
        GuardrailViolation,
    ),
    "key-echoed-in-an-error-event": (
        [_echo_key(lambda key: sse_reply([*STREAM, event({"error": {"message": key}})]))],
        "stream",
        APIStatusError,
    ),
    "stream-cut": ([sse_reply(STREAM, done=False, end="reset")], "stream", IncompleteStreamError),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_key_shows_in_no_exception_and_no_log_record(
    make_client: Callable[..., Any],
    fault_server: FaultServer,
    all_logs: list[str],
    scenario: str,
) -> None:
    behaviours, mode, expected = SCENARIOS[scenario]
    fault_server.script(*behaviours)
    timeout = SHORT if scenario == "read-timeout" else 120.0
    client = make_client(base_url=fault_server.url, timeout=timeout)
    assert_no_key([repr(client), str(client)])
    received = receive(client, mode)
    assert type(received.error) is expected if expected else received.error is None
    assert_no_key(texts_of(received.error) if received.error else [])
    assert any(text.startswith("httpcore") for text in all_logs), "httpcore was not heard"
    assert_no_key(all_logs)
    assert all(request.headers["apikey"] == API_KEY for request in fault_server.requests)


def test_the_key_echoed_in_a_garbage_event_does_not_show(
    make_client: Callable[..., Any], fault_server: FaultServer, all_logs: list[str]
) -> None:
    fault_server.script(_echo_key(lambda key: sse_reply([event(f"upstream said: {key}")])))
    received = receive(make_client(base_url=fault_server.url))
    assert type(received.error) is APIResponseValidationError
    assert_no_key(texts_of(received.error))


@pytest.mark.parametrize("mode", MODES)
def test_the_key_shows_in_no_traceback_with_locals(
    make_client: Callable[..., Any], fault_server: FaultServer, mode: Mode
) -> None:
    fault_server.script(json_reply({"error": "busy"}, 503))
    error = receive(make_client(base_url=fault_server.url), mode).error
    assert isinstance(error, InternalServerError)
    formatted = traceback.TracebackException.from_exception(error, capture_locals=True).format()
    assert_no_key(["".join(formatted)])


@pytest.mark.parametrize("bad_key", [f"{API_KEY} ", f" {API_KEY}", f"{API_KEY}\t"])
def test_a_key_with_stray_whitespace_is_refused_without_showing_it(
    make_client: Callable[..., Any], fault_server: FaultServer, all_logs: list[str], bad_key: str
) -> None:
    error: BaseException | None
    try:
        error = receive(make_client(base_url=fault_server.url, api_key=bad_key), "complete").error
    except ConfigurationError as exc:
        error = exc
    assert error is not None
    assert_no_key([*texts_of(error), *all_logs])
    assert type(error) is ConfigurationError
    assert fault_server.connections == 0
