"""Helpers shared by the emulator's tests: the endpoints as the tests drive them, stream
decoding, and clients (the SDK's and the official ``openai`` one) aimed at an emulator.

Fixtures stay in ``tests/emulator/conftest.py``; what a test module imports comes from here.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from completions_sdk.emulator import EmulatorServer

if TYPE_CHECKING:
    import openai

__all__ = [
    "CHAT",
    "CHAT_PATH",
    "COMPLETIONS",
    "PATH",
    "TLS",
    "Api",
    "Body",
    "client_options",
    "decode",
    "official_client",
]

PATH = "/ai-proxy/completions"
CHAT_PATH = "/ai-proxy/chat/completions"
Body = dict[str, Any]


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
