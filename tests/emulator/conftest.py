"""Fixtures for the emulator's tests: plain httpx clients aimed at ``proxy_emulator``.

Behaviour both endpoints share (headers, faults, guardrails, streaming, the shared field
rules) is tested once, over the ``api`` fixture, which runs a test against each endpoint.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import httpx_sse
import pytest

from completions_sdk.emulator import EmulatorServer

if TYPE_CHECKING:
    import openai

PATH = "/ai-proxy/completions"
CHAT_PATH = "/ai-proxy/chat/completions"
Body = dict[str, Any]
Post = Callable[..., Body]
Stream = Callable[..., list[str]]


@dataclass(frozen=True)
class Api:
    """One endpoint as the tests drive it: its path, and how its bodies read."""

    name: str
    path: str

    @property
    def is_chat(self) -> bool:
        return self.path == CHAT_PATH

    def body(self, text: str = "hi", **fields: Any) -> Body:
        """A request for ``text``: a prompt, or a conversation of one user message."""
        if self.is_chat:
            return {"model": "m", "messages": [{"role": "user", "content": text}], **fields}
        return {"model": "m", "prompt": text, **fields}

    def text(self, choice: Body) -> str:
        """The text of a choice, whole or streamed."""
        if not self.is_chat:
            return str(choice["text"])
        return str((choice.get("message") or choice.get("delta") or {}).get("content") or "")

    def texts(self, reply: Body) -> list[str]:
        """The text of each choice of a whole reply."""
        return [self.text(choice) for choice in reply["choices"]]

    def joined(self, chunks: list[Body]) -> dict[int, str]:
        """The text of each choice of a stream, by index."""
        texts: dict[int, str] = {}
        for chunk in chunks:
            for choice in chunk["choices"]:
                texts[choice["index"]] = texts.get(choice["index"], "") + self.text(choice)
        return texts


# One TLS context for every test's client: building one loads the CA bundle (~25 ms), and
# the emulator speaks plain HTTP anyway.
TLS = ssl.create_default_context()
COMPLETIONS = Api("completions", PATH)
CHAT = Api("chat", CHAT_PATH)


def decode(events: list[str]) -> list[Body]:
    """The chunks of a stream that ended with ``[DONE]`` and only there."""
    assert events[-1] == "[DONE]"
    assert "[DONE]" not in events[:-1]
    return [json.loads(data) for data in events[:-1]]


@pytest.fixture(params=[COMPLETIONS, CHAT], ids=lambda api: api.name)
def api(request: pytest.FixtureRequest) -> Api:
    """Each endpoint in turn, for behaviour they share."""
    result: Api = request.param
    return result


@pytest.fixture
def auth(proxy_emulator: EmulatorServer) -> dict[str, str]:
    """The headers the emulator accepts."""
    return {"apikey": proxy_emulator.api_key, "X-Enkrypt-Deployment": proxy_emulator.deployment}


@pytest.fixture
def http(proxy_emulator: EmulatorServer, auth: dict[str, str]) -> Iterator[httpx.Client]:
    """A client sending the accepted headers to the emulator's base URL."""
    with httpx.Client(base_url=proxy_emulator.url, headers=auth, timeout=10, verify=TLS) as client:
        yield client


@dataclass(frozen=True)
class Caller:
    """Requests to one endpoint, each expected to succeed."""

    http: httpx.Client
    path: str

    def reply(self, body: Body, **headers: str) -> Body:
        """POST ``body``, expect 200, return the decoded reply."""
        response = self.http.post(self.path, json=body, headers=headers)
        assert response.status_code == 200, response.text
        result: Body = response.json()
        return result

    def events(self, body: Body, **headers: str) -> list[str]:
        """Stream ``body``: every event's data (``[DONE]`` included)."""
        body = {**body, "stream": True}
        with httpx_sse.connect_sse(self.http, "POST", self.path, json=body, headers=headers) as src:
            assert src.response.status_code == 200
            return [event.data for event in src.iter_sse()]


def _calling(name: str, path: str, method: str) -> Any:
    """A fixture ``name`` giving ``Caller(http, path).<method>``."""

    def fixture(http: httpx.Client) -> Post | Stream:
        bound: Post | Stream = getattr(Caller(http, path), method)
        return bound

    fixture.__doc__ = f"``Caller.{method}`` of ``{path}``."
    return pytest.fixture(name=name)(fixture)


complete = _calling("complete", PATH, "reply")
stream = _calling("stream", PATH, "events")
chat = _calling("chat", CHAT_PATH, "reply")
stream_chat = _calling("stream_chat", CHAT_PATH, "events")


@pytest.fixture
def reply(http: httpx.Client, api: Api) -> Post:
    """``Caller.reply`` of the endpoint under test."""
    return Caller(http, api.path).reply


@pytest.fixture
def events(http: httpx.Client, api: Api) -> Stream:
    """``Caller.events`` of the endpoint under test."""
    return Caller(http, api.path).events


def client_options(emulator: EmulatorServer) -> dict[str, str]:
    """What an SDK client needs to talk to ``emulator``."""
    return {
        "api_key": emulator.api_key,
        "deployment": emulator.deployment,
        "base_url": emulator.url,
    }


def official_client(emulator: EmulatorServer) -> openai.OpenAI:
    """The official ``openai`` client, sending the proxy's headers to ``emulator``."""
    import openai  # only the tests that use it pay for the import

    return openai.OpenAI(
        api_key="not-the-proxy-key",  # sent as Authorization, which the proxy ignores
        base_url=f"{emulator.url}/ai-proxy",
        default_headers={"apikey": emulator.api_key, "X-Enkrypt-Deployment": emulator.deployment},
        max_retries=0,
    )
