"""Configuration edges over real sockets: credentials in ``base_url`` show nowhere, a query
string and escapes in it reach the server as given, framing headers are refused before
anything is sent, a plain-text proxy from the environment is warned about, and an endpoint
URL pasted as ``base_url`` still reaches the endpoint (or says what went wrong).
"""

from __future__ import annotations

import base64
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from completions_sdk import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    Client,
    ConfigurationError,
    InsecureTransportWarning,
    InternalServerError,
    NotFoundError,
)
from completions_sdk._base_url import ENDPOINT_SUFFIXES
from completions_sdk._endpoints import CHAT, COMPLETIONS
from completions_sdk.emulator import EmulatorServer
from tests._support import API_KEY
from tests.reliability._behaviours import echo, json_reply, reflect, reset
from tests.reliability._drive import MODES, Mode, receive
from tests.reliability._server import FaultServer

PASSWORD = "hunter2-URL-PASSWORD"
ENCODED = "p%40ss%3Aword"  # p@ss:word, as a URL must write it
SECRETS = (API_KEY, PASSWORD, "p@ss:word", ENCODED)
FRAMING = (
    *("Content-Length", "Transfer-Encoding", "Host", "Connection", "Upgrade", "TE"),
    *("Trailer", "Keep-Alive", "Proxy-Connection", "content-length", "HOST"),
)
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def httpx_info(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """httpx's own log at INFO, where it writes ``HTTP Request: POST <url>``."""
    with caplog.at_level(logging.INFO, logger="httpx"):
        yield caplog


def assert_no_secret(texts: list[str]) -> None:
    leaks = [text for text in texts for secret in SECRETS if secret in text]
    assert not leaks, f"a secret shows in: {leaks[0][:300]!r}"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# ---------------------------------------------------------------- credentials in base_url


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("password", "plain"), [(PASSWORD, PASSWORD), (ENCODED, "p@ss:word")])
def test_a_password_in_base_url_is_sent_as_basic_auth_and_shows_nowhere(
    make_client: Callable[..., Any],
    fault_server: FaultServer,
    httpx_info: pytest.LogCaptureFixture,
    mode: Mode,
    password: str,
    plain: str,
) -> None:
    fault_server.script(echo(), json_reply({"error": "busy"}, 503), reset())
    url = f"http://user:{password}@127.0.0.1:{fault_server.port}/gw"
    client = make_client(base_url=url, max_retries=0)
    assert receive(client, mode, prompt="hi").texts == {0: "echo:hi"}
    failures = [receive(client, mode).error for _ in range(2)]
    assert [type(error) for error in failures] == [InternalServerError, APIConnectionError]
    texts = [repr(client), repr(getattr(client, "client", client)._config.redactor)]
    texts += [str(error) for error in failures] + [repr(error) for error in failures]
    texts += [repr(vars(error)) for error in failures]
    texts += [record.getMessage() for record in httpx_info.records]
    assert any("HTTP Request: POST" in text for text in texts)  # httpx was heard
    assert_no_secret(texts)
    assert f"127.0.0.1:{fault_server.port}/gw/ai-proxy/completions" in str(failures[1])
    assert [seen.headers["authorization"] for seen in fault_server.requests] == [
        _basic("user", plain)
    ] * 3


def test_a_password_echoed_in_an_error_body_is_redacted(
    make_client: Callable[..., Any], fault_server: FaultServer
) -> None:
    def echo_password(seen: Any) -> Any:
        user_and_password = base64.b64decode(seen.headers["authorization"][6:]).decode()
        return json_reply({"error": {"message": f"who is {user_and_password}?"}}, 401)

    fault_server.script(reflect(echo_password))
    url = f"http://user:{PASSWORD}@127.0.0.1:{fault_server.port}"
    error = receive(make_client(base_url=url), "complete").error
    assert isinstance(error, AuthenticationError)
    assert "who is user:[redacted]?" in str(error)
    assert_no_secret([str(error), repr(error.body)])


def test_the_insecure_transport_warning_shows_no_password() -> None:
    with pytest.warns(InsecureTransportWarning) as caught:
        client = Client(api_key=API_KEY, deployment="d", base_url=f"http://u:{PASSWORD}@gw.test")
    assert_no_secret([str(warning.message) for warning in caught] + [repr(client)])


def test_credentials_in_base_url_and_an_authorization_header_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="Authorization"):
        Client(
            api_key=API_KEY,
            deployment="d",
            base_url=f"http://u:{PASSWORD}@127.0.0.1:9",
            default_headers={"authorization": "Bearer x"},
        )


# ---------------------------------------------------------------- the URL as given


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("base", "path"),
    [
        ("/?api-version=2024-06-01", "/ai-proxy/completions?api-version=2024-06-01"),
        ("/gw/?api-version=1&x=%2F", "/gw/ai-proxy/completions?api-version=1&x=%2F"),
        ("/tenants%2Facme", "/tenants%2Facme/ai-proxy/completions"),
        ("/a%20b/c/", "/a%20b/c/ai-proxy/completions"),
    ],
)
def test_a_query_string_and_escapes_in_base_url_reach_the_server_as_given(
    make_client: Callable[..., Any], fault_server: FaultServer, mode: Mode, base: str, path: str
) -> None:
    fault_server.script(echo())
    client = make_client(base_url=f"{fault_server.url}{base}")
    assert receive(client, mode, prompt="q").texts == {0: "echo:q"}
    assert [seen.path for seen in fault_server.requests] == [path]


# ---------------------------------------------------------------- framing headers


@pytest.mark.parametrize("name", FRAMING)
def test_framing_headers_are_refused_before_anything_is_sent(
    make_client: Callable[..., Any], fault_server: FaultServer, name: str
) -> None:
    fault_server.script(echo())
    with pytest.raises(ConfigurationError, match=name):
        make_client(base_url=fault_server.url, default_headers={name: "5"})
    client = make_client(base_url=fault_server.url)
    for mode in MODES:
        error = receive(client, mode, extra_headers={name: "5"}).error
        assert isinstance(error, ConfigurationError) and repr(name) in str(error)
    assert fault_server.connections == 0
    # Nothing was left half-sent: the next call is whole.
    assert receive(client, "complete", prompt="after").texts == {0: "echo:after"}
    assert fault_server.requests[0].headers["content-length"] == str(
        len(fault_server.requests[0].body)
    )


# ---------------------------------------------------------------- proxies from the environment


def _client_warnings(**options: Any) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Client(api_key=API_KEY, deployment="d", **options).close()
    return [str(w.message) for w in caught if issubclass(w.category, InsecureTransportWarning)]


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_plain_text_proxy_for_an_http_base_url_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "http://proxy.corp.test:3128")
    [message] = _client_warnings(base_url="http://127.0.0.1:9")
    assert "proxy.corp.test:3128" in message and "NO_PROXY" in message


@pytest.mark.parametrize(
    ("environment", "base_url"),
    [
        ({"HTTP_PROXY": "http://proxy.corp.test:3128", "NO_PROXY": "127.0.0.1"}, "127.0.0.1"),
        ({"HTTP_PROXY": "http://proxy.corp.test:3128", "NO_PROXY": "*"}, "127.0.0.1"),
        ({"HTTP_PROXY": "http://proxy.corp.test:3128", "NO_PROXY": "localhost"}, "localhost"),
        ({"HTTP_PROXY": "http://proxy.corp.test:3128", "NO_PROXY": "test"}, "gw.test"),
        ({"HTTPS_PROXY": "http://proxy.corp.test:3128"}, "127.0.0.1"),  # not for http
        ({"HTTP_PROXY": "http://127.0.0.1:3128"}, "localhost"),  # a loopback proxy
        ({"HTTP_PROXY": "https://proxy.corp.test:3128"}, "127.0.0.1"),  # encrypted to it
    ],
)
def test_no_proxy_warning_where_the_key_is_not_exposed(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], base_url: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    scheme = "https" if base_url == "gw.test" else "http"
    assert _client_warnings(base_url=f"{scheme}://{base_url}:9") == []


def test_an_https_base_url_through_a_plain_proxy_is_not_warned_about(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.test:3128")  # CONNECT: TLS inside
    assert _client_warnings(base_url="https://gw.test") == []


def test_no_proxy_warning_when_the_http_client_ignores_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.corp.test:3128")
    with httpx.Client(trust_env=False) as http:
        assert _client_warnings(base_url="http://127.0.0.1:9", http_client=http) == []


def test_httpx_sends_a_loopback_target_through_the_environments_proxy(
    monkeypatch: pytest.MonkeyPatch, fault_server: FaultServer, closed_port: int
) -> None:
    """Why the warning covers loopback targets: httpx proxies them too (the fault server
    plays the proxy here), unless NO_PROXY names them."""
    fault_server.script(echo())
    monkeypatch.setenv("HTTP_PROXY", fault_server.url)
    target = f"http://localhost:{closed_port}"
    with Client(api_key=API_KEY, deployment="d", base_url=target, max_retries=0) as client:
        assert client.complete(model="m", prompt="via").text == "echo:via"
    [seen] = fault_server.requests
    assert seen.path == f"{target}/ai-proxy/completions" and seen.headers["apikey"] == API_KEY
    monkeypatch.setenv("NO_PROXY", "localhost")
    with Client(api_key=API_KEY, deployment="d", base_url=target, max_retries=0) as client:
        assert receive(client, "complete").error is not None  # direct: refused
    assert len(fault_server.requests) == 1


# ---------------------------------------------------------------- an endpoint URL as base_url


@pytest.mark.parametrize("suffix", ["", "/"])
@pytest.mark.parametrize(
    "pasted", ["/ai-proxy", "/ai-proxy/completions", "/ai-proxy/chat/completions"]
)
@pytest.mark.parametrize("prefix", ["", "/gw"])
def test_an_endpoint_url_given_as_base_url_reaches_the_endpoint(
    make_client: Callable[..., Any],
    fault_server: FaultServer,
    prefix: str,
    pasted: str,
    suffix: str,
) -> None:
    fault_server.script(echo())
    client = make_client(base_url=f"{fault_server.url}{prefix}{pasted}{suffix}?v=1")
    for mode in MODES:
        assert receive(client, mode, prompt=mode).texts == {0: f"echo:{mode}"}
    assert {seen.path for seen in fault_server.requests} == {f"{prefix}/ai-proxy/completions?v=1"}


def test_the_emulators_endpoint_url_works_as_base_url(
    proxy_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENKRYPTAI_BASE_URL", proxy_emulator.completions_url)
    options = {"api_key": proxy_emulator.api_key, "deployment": proxy_emulator.deployment}
    with Client(**options) as client:
        assert client.base_url == httpx.URL(proxy_emulator.url + "/")
        assert client.complete(model="m", prompt="hi").text
        assert client.chat(model="m", messages=[{"role": "user", "content": "hi"}]).choices


def test_the_pasted_forms_cover_every_endpoint() -> None:
    for endpoint in (COMPLETIONS, CHAT):
        assert endpoint.path in ENDPOINT_SUFFIXES
        client = AsyncClient(
            api_key="k", deployment="d", base_url=f"http://h.localhost{endpoint.path}"
        )
        assert client.base_url == httpx.URL("http://h.localhost/")


def test_a_404_on_a_doubled_endpoint_path_says_so(
    make_client: Callable[..., Any], fault_server: FaultServer
) -> None:
    fault_server.script(json_reply({"detail": "Not Found"}, 404))
    doubled = f"{fault_server.url}/ai-proxy/completions/ai-proxy/completions"
    error = receive(make_client(base_url=doubled), "complete").error
    assert isinstance(error, NotFoundError)
    assert fault_server.requests[0].path == "/ai-proxy/completions" * 2
    assert "names the endpoint twice" in str(error) and "base_url" in str(error)
    # An ordinary 404 keeps the ordinary hint.
    error = receive(make_client(base_url=fault_server.url), "complete").error
    assert isinstance(error, NotFoundError)
    assert str(error).endswith("Check the deployment name and base_url.")
