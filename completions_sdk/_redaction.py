"""``Redactor``: the one object that knows the client's secrets, to scrub them from what
users see (messages, error bodies, URLs, headers, the requests and replies on exceptions).

What only needs to hide a secret is given a ``Redactor``, never the secret itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

__all__ = ["NO_SECRETS", "REDACTED", "SECRET_HEADERS", "Redactor"]

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset(
    {"apikey", "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
"""Headers whose values are credentials, whoever set them (lower-case names)."""


class Redactor:
    """Replaces the client's secrets with ``[redacted]``; its repr shows none of them.

    Without secrets it still removes credentials from URLs and the values of
    ``SECRET_HEADERS``, which needs no knowledge of the secrets themselves.
    """

    __slots__ = ("_secrets",)

    def __init__(self, *secrets: str | None) -> None:
        # Longest first, so that a secret containing another is replaced whole.
        self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def __repr__(self) -> str:
        return f"Redactor(<{len(self._secrets)} secrets>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Redactor) and other._secrets == self._secrets

    def __hash__(self) -> int:
        return hash(self._secrets)

    def __getstate__(self) -> tuple[str, ...]:
        return self._secrets

    def __setstate__(self, state: tuple[str, ...]) -> None:
        self._secrets = state

    def text(self, text: str) -> str:
        """``text`` with every secret replaced (a server may echo a request back)."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def value(self, value: Any) -> Any:
        """A decoded JSON value with the secrets replaced in every string, keys included.

        Raises:
            RecursionError: the value is nested too deep to search.
        """
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value

    def url(self, url: httpx.URL) -> httpx.URL:
        """``url`` without its user and password."""
        return url.copy_with(userinfo=b"") if url.userinfo else url

    def headers(self, headers: httpx.Headers) -> httpx.Headers:
        """A copy of ``headers`` with credential headers and secrets in values redacted."""
        return httpx.Headers(
            [
                (name, REDACTED if name.lower() in SECRET_HEADERS else self.text(value))
                for name, value in headers.multi_items()
            ],
            encoding=headers.encoding,  # a Latin-1 value is decoded and encoded back as such
        )

    def request(self, request: httpx.Request) -> httpx.Request:
        """``request`` itself when it shows no secret, else a scrubbed copy (unsent)."""
        if self._clean(request.url, request.headers):
            return request
        state = request.__getstate__()
        state["url"] = self.url(request.url)
        state["headers"] = self.headers(request.headers)
        copy = httpx.Request.__new__(httpx.Request)
        copy.__setstate__(state)
        return copy

    def response(self, response: httpx.Response) -> httpx.Response:
        """``response`` itself when it shows no secret, else a scrubbed, closed copy.

        The copy keeps the status, the headers (redacted), the body when it was read, and
        the request (scrubbed), and pickles without any secret.
        """
        state = response.__getstate__()
        request, follow = state.get("_request"), state.get("next_request")
        if (
            self._clean(None, response.headers)
            and (request is None or self.request(request) is request)
            and follow is None
            and not state.get("history")
        ):
            return response
        state["headers"] = self.headers(response.headers)
        state["_request"] = None if request is None else self.request(request)
        # A redirect's next request carries the key: the SDK never follows it.
        state["next_request"] = None
        state["history"] = [self.response(old) for old in state.get("history", ())]
        if not isinstance(state.get("default_encoding", "utf-8"), str):
            state["default_encoding"] = "utf-8"  # a detector function may not pickle
        copy = httpx.Response.__new__(httpx.Response)
        copy.__setstate__(state)
        copy.extensions = _kept_extensions(response.extensions)
        return copy

    def _clean(self, url: httpx.URL | None, headers: httpx.Headers) -> bool:
        if url is not None and url.userinfo:
            return False
        for name, value in headers.multi_items():
            if name.lower() in SECRET_HEADERS and value != REDACTED:
                return False
            if any(secret in value for secret in self._secrets):
                return False
        return True


def _kept_extensions(extensions: Mapping[str, Any]) -> dict[str, Any]:
    # The reason phrase and HTTP version are facts about the reply; the rest is live state.
    return {key: extensions[key] for key in ("http_version", "reason_phrase") if key in extensions}


NO_SECRETS = Redactor()
"""Scrubs credential headers and URL credentials, knowing no secret."""
