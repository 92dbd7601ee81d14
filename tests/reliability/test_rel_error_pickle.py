"""Errors cross process boundaries: every public exception, made over real sockets, pickles
and unpickles with its fields and without a secret (the key, the base URL's password);
a ``multiprocessing.Pool`` (fork and spawn) and a ``ProcessPoolExecutor`` whose worker
raises hand the error to the parent instead of hanging.
"""

from __future__ import annotations

import base64
import contextlib
import multiprocessing
import pickle
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import httpx
import pytest

import completions_sdk
from completions_sdk import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    CompletionsError,
    ConfigurationError,
    GuardrailViolation,
    IncompleteStreamError,
    RateLimitError,
)
from tests._support import API_KEY, fixture_json, status_errors
from tests.reliability._behaviours import event, hang, json_reply, reply, reset, sse_reply
from tests.reliability._drive import Mode, chunk, receive
from tests.reliability._server import Behaviour, FaultServer
from tests.reliability._workers import complete_or_raise

PASSWORD = "hunter2-URL-PASSWORD"
TOKEN = base64.b64encode(f"user:{PASSWORD}".encode()).decode()
SECRETS = (API_KEY, PASSWORD, TOKEN)
HEADERS = {"x-request-id": "req-42", "Retry-After": "7"}


def _status(status: int) -> Behaviour:
    body = {"error": {"message": f"status {status}", "type": f"type_{status}"}}
    return json_reply(body, status, HEADERS)


SCENARIOS: dict[str, tuple[Behaviour, Mode, type[CompletionsError]]] = {
    **{str(status): (_status(status), "complete", cls) for status, cls in status_errors()},
    "guardrail": (
        json_reply(fixture_json("blocked-by-input-guardrails.json"), 400, HEADERS),
        "complete",
        GuardrailViolation,
    ),
    "error-event": (
        sse_reply([event(chunk(" a")), event({"error": {"message": "upstream", "type": "u"}})]),
        "stream",
        APIStatusError,
    ),
    "reset": (reset(), "complete", APIConnectionError),
    "read-timeout": (hang(), "stream", APITimeoutError),
    "stream-cut": (sse_reply([event(chunk(" Once"))], done=False), "stream", IncompleteStreamError),
    "not-json": (reply(200, b"<html>hello</html>"), "complete", APIResponseValidationError),
}


def _credentialed(server: FaultServer) -> str:
    return f"http://user:{PASSWORD}@127.0.0.1:{server.port}"


def assert_no_secret(*texts: str | bytes) -> None:
    for text in texts:
        data = text if isinstance(text, bytes) else text.encode()
        for secret in SECRETS:
            assert secret.encode() not in data, f"a secret shows in {data[:300]!r}"


def _fields(error: BaseException) -> dict[str, Any]:
    """What a user reads on an error, as comparable values."""
    fields: dict[str, Any] = {"type": type(error), "str": str(error), "args": error.args}
    for name in ("status_code", "body", "request_id", "error_type", "detections"):
        fields[name] = getattr(error, name, None)
    for name in ("partial_texts", "chunks_received"):
        fields[name] = getattr(error, name, None)
    response: httpx.Response | None = getattr(error, "response", None)
    request: httpx.Request | None = getattr(error, "request", None)
    if response is not None:
        fields["response"] = (response.status_code, response.headers.multi_items())
        with contextlib.suppress(httpx.ResponseNotRead):  # a stream's, read event by event
            fields["content"] = response.content
        request = response.request
    if request is not None:
        fields["request"] = (request.method, str(request.url), request.headers.multi_items())
    return fields


def _errors(make_client: Callable[..., Any], server: FaultServer) -> list[CompletionsError]:
    errors = []
    for name, (behaviour, mode, expected) in SCENARIOS.items():
        server.script(behaviour)
        timeout = httpx.Timeout(5.0, read=0.3) if name == "read-timeout" else 10.0
        client = make_client(base_url=_credentialed(server), max_retries=0, timeout=timeout)
        error = receive(client, mode).error
        assert type(error) is expected, (name, error)
        assert server.requests[0].headers["authorization"] == f"Basic {TOKEN}"
        errors.append(error)
    return errors


def test_every_public_exception_round_trips_through_pickle_without_secrets(
    make_client: Callable[..., Any], fault_server: FaultServer
) -> None:
    errors: list[BaseException] = [*_errors(make_client, fault_server)]
    errors += [ConfigurationError("bad"), CompletionsError("root")]
    public = {
        value
        for value in vars(completions_sdk).values()
        if isinstance(value, type) and issubclass(value, CompletionsError)
    }
    assert {type(error) for error in errors} == public
    for error in errors:
        data = pickle.dumps(error)
        assert_no_secret(data, *map(str, _fields(error).values()))
        copy = pickle.loads(data)
        assert _fields(copy) == _fields(error)
        assert copy.__reduce__()[1] == error.__reduce__()[1]


def test_the_request_on_an_error_shows_what_was_sent_but_no_secret(
    make_client: Callable[..., Any], fault_server: FaultServer
) -> None:
    fault_server.script(_status(429))
    client = make_client(base_url=_credentialed(fault_server), max_retries=0)
    error = receive(client, "complete").error
    assert isinstance(error, RateLimitError)
    request = error.response.request
    assert (request.method, str(request.url)) == (
        "POST",
        f"http://127.0.0.1:{fault_server.port}/ai-proxy/completions",
    )
    assert request.headers["apikey"] == request.headers["authorization"] == "[redacted]"
    assert request.headers["x-enkrypt-deployment"] == "test-deployment-1"
    assert request.content == fault_server.requests[0].body
    assert error.response.headers["retry-after"] == "7"
    assert error.response.json() == error.body
    assert (error.request_id, error.error_type) == ("req-42", "type_429")


def _check_rate_limit(error: BaseException, server: FaultServer) -> None:
    assert type(error) is RateLimitError
    assert (error.status_code, error.request_id, error.error_type) == (429, "req-42", "type_429")
    assert error.body == {"error": {"message": "status 429", "type": "type_429"}}
    assert error.response.headers["retry-after"] == "7"
    assert error.response.request.headers["apikey"] == "[redacted]"
    assert str(error.response.request.url).startswith(f"http://127.0.0.1:{server.port}/")
    assert_no_secret(pickle.dumps(error), str(error))


@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # threads and fork: 3.12+
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_pool_worker_that_raises_hands_the_error_to_the_parent(
    fault_server: FaultServer, method: str
) -> None:
    fault_server.script(_status(429))
    url = _credentialed(fault_server)
    with multiprocessing.get_context(method).Pool(1) as pool:
        pending = [pool.apply_async(complete_or_raise, (url, API_KEY)) for _ in range(3)]
        for result in pending:
            # Before the fix the parent could not unpickle the error: this waited forever
            # (here: until the generous timeout, a failure).
            with pytest.raises(RateLimitError) as info:
                result.get(timeout=30)
            _check_rate_limit(info.value, fault_server)
    assert len(fault_server.requests) == 3


def test_a_process_pool_executor_worker_that_raises_hands_the_error_over(
    fault_server: FaultServer,
) -> None:
    fault_server.script(_status(429))
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, spawn) as pool:
        future = pool.submit(complete_or_raise, _credentialed(fault_server), API_KEY)
        error = future.exception(timeout=30)  # BrokenProcessPool before the fix
        assert error is not None
        _check_rate_limit(error, fault_server)
        # The pool survived: it runs the next job.
        assert pool.submit(int, "7").result(timeout=60) == 7
