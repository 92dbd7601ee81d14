"""Hostile input: header injection is refused before anything is sent, plain http to a
remote host warns, and the Python-dict error form is parsed without ``eval``, within bounds.
"""

from __future__ import annotations

import builtins
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from completions_sdk import (
    APIStatusError,
    Client,
    ConfigurationError,
    InsecureTransportWarning,
    InternalServerError,
)
from completions_sdk._error_mapping import MAX_LITERAL_LENGTH, decode_error_body, status_error
from tests._support import API_KEY
from tests.reliability._behaviours import event, json_reply, reply, sse_reply
from tests.reliability._drive import MODES, STREAMED, Mode, completion, receive
from tests.reliability._server import Behaviour, FaultServer

# ---------------------------------------------------------------- header injection


def _header_arguments(value: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Every argument that becomes a header, ending in ``value``: (client, call) keywords."""
    return {
        "api_key": ({"api_key": f"sk-x{value}"}, {}),
        "deployment": ({"deployment": f"dep{value}"}, {}),
        "tags-list": ({"tags": ["a", f"b{value}"]}, {}),
        "tags-string": ({"tags": f"a,b{value}"}, {}),
        "default_headers-name": ({"default_headers": {f"X-A{value}": "1"}}, {}),
        "default_headers-value": ({"default_headers": {"X-A": f"1{value}"}}, {}),
        "call-deployment": ({}, {"deployment": f"dep{value}"}),
        "call-tags": ({}, {"tags": ["a", f"b{value}"]}),
        "extra_headers-name": ({}, {"extra_headers": {f"X-A{value}": "1"}}),
        "extra_headers-value": ({}, {"extra_headers": {"X-A": f"1{value}"}}),
    }


def _attempt(
    make_client: Callable[..., Any], server: FaultServer, argument: str, value: str, mode: Mode
) -> BaseException | None:
    """The error of a call with ``value`` in ``argument``, or ``None`` when it worked."""
    client_options, call_options = _header_arguments(value)[argument]
    try:
        client = make_client(base_url=server.url, **client_options)
        return receive(client, mode, **call_options).error
    except Exception as exc:
        return exc


INJECTIONS = [
    "\r",
    "\n",
    "\r\n",
    "\0",
    "\rx",
    "\nx",
    "\0x",
    "\r\nX-Injected: 1",
    "\r\n\r\nGET / HTTP/1.1",
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("argument", sorted(_header_arguments("")))
def test_header_injection_is_refused_before_sending(
    make_client: Callable[..., Any], fault_server: FaultServer, argument: str, mode: Mode
) -> None:
    for injection in INJECTIONS:
        fault_server.script(
            sse_reply(event(c) for c in STREAMED)
            if mode == "stream"
            else json_reply(completion(""))
        )
        error = _attempt(make_client, fault_server, argument, injection, mode)
        if argument == "tags-string" and injection.strip() == "":
            # A comma-separated string is split and each tag stripped: "a,b\r\n" is "a,b".
            assert error is None, repr(error)
            assert [r.headers["x-enkrypt-tags"] for r in fault_server.requests] == ["a,b"]
            continue
        assert type(error) is ConfigurationError, f"{injection!r}: {error!r}"
        assert API_KEY not in str(error)
        assert fault_server.connections == 0, f"{injection!r} reached the server"


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("value", " "),
        ("value", "\t"),
        ("value", "\u00e9"),
        ("value", "\u2028"),
        ("name", " "),
        ("name", ":"),
        ("name", "("),
        ("name", "\u00e9"),
    ],
    ids=repr,
)
def test_a_header_argument_is_sent_or_refused_never_half_sent(
    make_client: Callable[..., Any], fault_server: FaultServer, where: str, value: str
) -> None:
    # Acceptable: the call works, or it is refused with a ConfigurationError before any
    # connection. Not acceptable: an exception of another kind, or retries of a request
    # that can never be sent.
    wrong: dict[str, str] = {}
    for argument in sorted(_header_arguments("")):
        if argument.endswith("-name") != (where == "name"):
            continue
        fault_server.script(json_reply(completion(" ok")))
        error = _attempt(make_client, fault_server, argument, value, "complete")
        refused = type(error) is ConfigurationError and fault_server.connections == 0
        if error is not None and not refused:
            wrong[argument] = f"{error!r} after {fault_server.connections} connection(s)"
    assert not wrong, wrong


# ---------------------------------------------------------------- plain http


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.enkryptai.com",
        "http://10.0.0.1:8080",
        "http://[2001:db8::1]",
        "http://0.0.0.0",
        "http://localhost.example.com",
        "http://127.0.0.1.nip.io",
    ],
)
def test_plain_http_to_a_remote_host_warns(base_url: str) -> None:
    # Built but never used: nothing connects anywhere.
    with pytest.warns(InsecureTransportWarning, match="unencrypted") as caught:
        client = Client(api_key=API_KEY, deployment="d", base_url=base_url)
    client.close()
    assert caught[0].filename == __file__  # the warning points at the caller's line
    assert API_KEY not in str(caught[0].message)


def test_plain_http_from_the_environment_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENKRYPTAI_BASE_URL", "http://proxy.internal.example")
    with pytest.warns(InsecureTransportWarning):
        Client(api_key=API_KEY, deployment="d").close()


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.enkryptai.com",
        "http://127.0.0.1:8080",
        "http://127.8.9.10",
        "http://[::1]:8080",
        "http://localhost",
        "http://LOCALHOST:1",
        "http://proxy.localhost",
    ],
)
def test_https_or_loopback_does_not_warn(base_url: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Client(api_key=API_KEY, deployment="d", base_url=base_url).close()


# ---------------------------------------------------------------- the Python-dict error form


def _error_with(text: str, status: int = 400) -> Behaviour:
    return json_reply({"error": text}, status)


def test_the_python_dict_form_is_understood(
    make_client: Callable[..., Any], fault_server: FaultServer
) -> None:
    text = "{'message': 'Prompt is too long', 'type': 'invalid_request_error', 'code': None}"
    fault_server.script(_error_with(text))
    error = receive(make_client(base_url=fault_server.url), "complete").error
    assert isinstance(error, APIStatusError)
    assert "Prompt is too long" in str(error) and error.error_type == "invalid_request_error"


HOSTILE = [
    "{'message': __import__('os').system('touch CANARY')}",
    "{'message': open('CANARY', 'w').write('pwned')}",
    "{'message': (lambda: open('CANARY', 'w'))()}",
    "{'message': exec(\"open('CANARY', 'w')\")}",
    "{'message': ().__class__.__base__.__subclasses__()}",
    "{'message': [x for x in range(10**9)]}",
    "{'message': 'a' * 10**9}",
    "{'message': 9**9**9}",
    "{'message': f'{__import__(\"os\").getcwd()}'}",
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_a_hostile_python_dict_runs_nothing(
    make_client: Callable[..., Any],
    fault_server: FaultServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    payload: str,
) -> None:
    canary = tmp_path / "pwned"

    def tripwire(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval or exec was called")

    monkeypatch.setattr(builtins, "eval", tripwire)
    monkeypatch.setattr(builtins, "exec", tripwire)
    fault_server.script(_error_with(payload.replace("CANARY", str(canary))))
    started = time.monotonic()
    error = receive(make_client(base_url=fault_server.url), "complete").error
    assert isinstance(error, APIStatusError)
    assert time.monotonic() - started < 2
    assert not canary.exists()
    assert error.error_type is None  # not taken for a dict: kept as text
    assert len(str(error)) < 1200


def _bounded(text: str) -> tuple[APIStatusError, float, int]:
    """The error for a reply whose ``error`` is ``text``: error, seconds, peak bytes."""
    response = httpx.Response(
        400, json={"error": text}, request=httpx.Request("POST", "http://127.0.0.1:9/")
    )
    tracemalloc.start()
    started = time.perf_counter()
    try:
        error = status_error(response, decode_error_body(response.content))
        return error, time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _fill(prefix: str, unit: str, suffix: str, length: int) -> str:
    return prefix + unit * ((length - len(prefix) - len(suffix)) // len(unit)) + suffix


LIMIT = MAX_LITERAL_LENGTH
HEAVY = {
    "long-string-at-limit": _fill("{'type': 't', 'm': '", "x", "'}", LIMIT),
    "long-string-over-limit": _fill("{'type': 't', 'm': '", "x", "'}", LIMIT + 1),
    "huge-over-limit": _fill("{'type': 't', 'm': '", "x", "'}", 50 * LIMIT),
    "many-small-lists": _fill("{'type': 't', 'm': [", "[],", "]}", LIMIT),
    "many-small-dicts": _fill("{'type': 't', 'm': [", "{1: 2},", "]}", LIMIT),
    "many-numbers": _fill("{'type': 't', 'm': [", "1e308,", "]}", LIMIT),
    "many-escapes": _fill("{'type': 't', 'm': '", "\\N{BULLET}", "'}", LIMIT),
    "deep-lists": "{'m': " + "[" * 5000 + "]" * 5000 + "}",
    "deep-dicts": "{'m': " + "{1: " * 3000 + "1" + "}" * 3000 + "}",
    "long-int": "{'m': " + "9" * (LIMIT - 10) + "}",
    "unterminated": "{'m': '" + "x" * (LIMIT - 10),
}


@pytest.mark.parametrize("name", sorted(HEAVY))
def test_a_heavy_python_dict_is_parsed_within_bounds(name: str) -> None:
    error, seconds, peak = _bounded(HEAVY[name])
    parsed = error.error_type == "t"
    assert parsed == (name.startswith("many") or name.endswith("at-limit")), error.error_type
    assert seconds < 5.0, f"{seconds:.2f} s"
    assert peak < 64 * 2**20, f"{peak / 2**20:.1f} MiB"
    assert len(str(error)) < 1200


LITERAL_ALPHABET = "{}[]()'\":,.-+*_ \\0123456789abcdefjNuxTrueFalsNon"


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.sampled_from(LITERAL_ALPHABET), max_size=80))
def test_any_dict_like_error_text_is_handled(text: str) -> None:
    error, _, _ = _bounded("{" + text)
    assert isinstance(error, APIStatusError)


def test_a_huge_error_body_gives_a_short_message(
    make_client: Callable[..., Any], fault_server: FaultServer
) -> None:
    fault_server.script(reply(500, b"{" + b"x" * 5_000_000, {"Content-Type": "text/plain"}))
    error = receive(make_client(base_url=fault_server.url, max_retries=0), "complete").error
    assert isinstance(error, InternalServerError)
    assert len(str(error)) < 1200
