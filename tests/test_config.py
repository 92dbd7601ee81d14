"""Client configuration: arguments, ``ENKRYPTAI_*`` fallbacks, header checks."""

from __future__ import annotations

import httpx
import pytest

from completions_sdk import (
    DEFAULT_TIMEOUT,
    AsyncClient,
    Client,
    ConfigurationError,
    InsecureTransportWarning,
    RetryPolicy,
)
from completions_sdk._headers import parse_tags


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENKRYPTAI_API_KEY", "ENKRYPTAI_DEPLOYMENT", "ENKRYPTAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("client_class", [Client, AsyncClient])
def test_environment_fallbacks(
    monkeypatch: pytest.MonkeyPatch, client_class: type[Client] | type[AsyncClient]
) -> None:
    monkeypatch.setenv("ENKRYPTAI_API_KEY", "env-key")
    monkeypatch.setenv("ENKRYPTAI_DEPLOYMENT", "env-deployment")
    monkeypatch.setenv("ENKRYPTAI_BASE_URL", "http://localhost:8080/")
    client = client_class()
    assert client.deployment == "env-deployment"
    assert client.base_url == httpx.URL("http://localhost:8080/")
    assert client._config.headers.client_headers(stream=False)["apikey"] == "env-key"
    assert (
        client._config.url("/ai-proxy/completions") == "http://localhost:8080/ai-proxy/completions"
    )


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENKRYPTAI_API_KEY", "env-key")
    monkeypatch.setenv("ENKRYPTAI_DEPLOYMENT", "env-deployment")
    client = Client(api_key="arg-key", deployment="arg-deployment")
    assert client.deployment == "arg-deployment"
    assert client._config.headers.client_headers(stream=False)["apikey"] == "arg-key"
    assert client.base_url == httpx.URL("https://api.enkryptai.com")


def test_a_base_url_with_a_path_prefix_is_kept() -> None:
    client = Client(api_key="k", deployment="d", base_url="https://gw.example.com/enkrypt")
    assert client._config.url("/ai-proxy/completions") == (
        "https://gw.example.com/enkrypt/ai-proxy/completions"
    )


def test_missing_key_names_the_argument_and_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"api_key=.*ENKRYPTAI_API_KEY"):
        Client(deployment="d")


def test_missing_deployment_names_the_argument_and_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"deployment=.*ENKRYPTAI_DEPLOYMENT"):
        Client(api_key="k")


def test_an_empty_environment_variable_counts_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENKRYPTAI_API_KEY", "")
    with pytest.raises(ConfigurationError, match="api_key"):
        Client(deployment="d")


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["web", "prod"], ("web", "prod")),
        ("web,prod", ("web", "prod")),
        ("web, prod", ("web", "prod")),
        ([], None),
        (None, None),
    ],
)
def test_tags_from_a_list_or_a_comma_string(
    tags: list[str] | str | None, expected: tuple[str, ...] | None
) -> None:
    assert parse_tags(tags) == expected


@pytest.mark.parametrize("tags", [["a,b"], ["ok", ""], "a,,b", [" "], ["a\nb"]])
def test_bad_tags_are_rejected(tags: list[str] | str) -> None:
    with pytest.raises(ConfigurationError, match="tags"):
        Client(api_key="k", deployment="d", tags=tags)


@pytest.mark.parametrize(
    "arguments",
    [
        {"api_key": "k\r\nX-Evil: 1"},
        {"deployment": "d\n"},
        {"default_headers": {"X-A": "\0"}},
        {"default_headers": {"X-A\n": "v"}},
    ],
)
def test_header_injection_at_construction(arguments: dict[str, object]) -> None:
    options: dict[str, object] = {"api_key": "k", "deployment": "d", **arguments}
    with pytest.raises(ConfigurationError, match="CR, LF or NUL"):
        Client(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"api_key": "sk-secret "}, "api_key must be printable ASCII"),
        ({"deployment": "d\u00e9"}, "deployment must be printable ASCII"),
        ({"default_headers": {"X A": "v"}}, "header name 'X A' is not a valid HTTP token"),
        ({"default_headers": {"X-A": "\tv"}}, "header 'X-A' must be printable ASCII"),
    ],
)
def test_header_values_h11_would_refuse_are_refused_up_front(
    arguments: dict[str, object], message: str
) -> None:
    options: dict[str, object] = {"api_key": "k", "deployment": "d", **arguments}
    with pytest.raises(ConfigurationError, match=message) as caught:
        Client(**options)  # type: ignore[arg-type]
    assert "sk-secret" not in str(caught.value)


def test_inner_spaces_and_tabs_in_a_header_value_are_fine() -> None:
    client = Client(api_key="k", deployment="d", default_headers={"X-Note": "a b\tc"})
    assert client._config.headers.client_headers(stream=False)["X-Note"] == "a b\tc"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"timeout": 0}, "timeout must be None or a positive, finite number"),
        ({"timeout": float("nan")}, "timeout must be None or a positive"),
        ({"timeout": httpx.Timeout(5.0, connect=-1)}, "timeout.connect must be None"),
        ({"deadline": float("inf")}, "deadline must be None or a positive"),
        ({"max_retries": -1}, "max_retries must be an int >= 0"),
    ],
)
def test_timeouts_deadlines_and_retry_counts_are_checked(
    arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Client(api_key="k", deployment="d", **arguments)  # type: ignore[arg-type]


def test_plain_http_to_a_remote_host_warns() -> None:
    with pytest.warns(InsecureTransportWarning, match="unencrypted"):
        Client(api_key="k", deployment="d", base_url="http://proxy.example.com")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost", "http://[::1]:80"])
def test_plain_http_to_loopback_is_fine(url: str) -> None:
    Client(api_key="k", deployment="d", base_url=url)  # warnings are errors in this suite


def test_a_base_url_must_be_http() -> None:
    with pytest.raises(ConfigurationError, match="base_url"):
        Client(api_key="k", deployment="d", base_url="ftp://x")


def test_timeouts_and_retries() -> None:
    assert Client(api_key="k", deployment="d")._config.timeout == DEFAULT_TIMEOUT
    assert Client(api_key="k", deployment="d", timeout=5)._config.timeout == httpx.Timeout(5)
    client = Client(
        api_key="k", deployment="d", max_retries=0, retry_policy=RetryPolicy(max_delay=1)
    )
    assert client._config.retry.max_retries == 0
    assert client._config.retry.max_delay == 1
    with pytest.raises(ConfigurationError, match="deadline"):
        Client(api_key="k", deployment="d", deadline=0)


def test_a_header_is_sent_once_whatever_the_case_of_its_name() -> None:
    client = Client(
        api_key="k",
        deployment="d",
        tags=["a"],
        default_headers={"x-enkrypt-deployment": "other", "APIKEY": "not-the-key", "X-Note": "1"},
    )
    headers = client._config.headers.client_headers(stream=False)
    assert [name for name in headers if name.lower() == "x-enkrypt-deployment"] == [
        "x-enkrypt-deployment"
    ]
    assert [value for name, value in headers.items() if name.lower() == "apikey"] == ["k"]
    extra = {"extra_headers": {"x-enkrypt-tags": "b", "x-note": "2"}}
    per_call = client._config.headers.for_call(extra, stream=False).values
    assert [v for n, v in per_call.items() if n.lower() == "x-enkrypt-tags"] == ["b"]
    assert [v for n, v in per_call.items() if n.lower() == "x-note"] == ["2"]


@pytest.mark.parametrize("refresh_cache", ["false", 0, "no"])
def test_refresh_cache_must_be_a_bool(refresh_cache: object) -> None:
    with pytest.raises(ConfigurationError, match="refresh_cache must be True, False or None"):
        Client(api_key="k", deployment="d", refresh_cache=refresh_cache)  # type: ignore[arg-type]
    client = Client(api_key="k", deployment="d")
    with pytest.raises(ConfigurationError, match="refresh_cache must be True, False or None"):
        client._config.headers.for_call({"refresh_cache": refresh_cache}, stream=False)


def test_a_per_call_deployment_must_not_be_empty() -> None:
    client = Client(api_key="k", deployment="d")
    with pytest.raises(ConfigurationError, match="deployment must not be empty"):
        client._config.headers.for_call({"deployment": ""}, stream=False)
