"""The Python samples in ``docs/`` run against the emulator, as a reader would run them.

The samples of a page run in order, in one namespace (a later sample may use what an
earlier one defined), with the ``ENKRYPTAI_*`` variables pointing at the ``proxy_emulator``
fixture. A sample that cannot run here is marked, on the line before its fence, with
``<!-- docs-test: skip (the reason) -->``. Samples may reach loopback addresses only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import textwrap
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from completions_sdk import AsyncClient, Client
from completions_sdk.emulator import EmulatorServer

DOCS = Path(__file__).parents[1] / "docs"
FENCE = re.compile(
    r"^(?P<indent>[ ]*)```python[^\n]*\n(?P<code>.*?)^(?P=indent)```[ ]*$", re.MULTILINE | re.DOTALL
)
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b(?P<reason>[^>]*)-->")
INCLUDE = "--8<--"  # a file pulled in by pymdownx.snippets: examples/ are run on their own


class Sample(NamedTuple):
    """One fenced Python block of a page."""

    line: int
    code: str
    skip: str | None


def samples(page: Path) -> list[Sample]:
    """The Python blocks of ``page``, with the reason each skipped one gives."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        marker = SKIP.search(before)
        code = textwrap.dedent(match["code"])
        if INCLUDE not in code:
            found.append(Sample(line, code, marker["reason"].strip() if marker else None))
    return found


PAGES = sorted(page for page in DOCS.rglob("*.md") if samples(page))


def test_skipped_samples_say_why() -> None:
    for page in PAGES:
        for sample in samples(page):
            assert sample.skip is None or sample.skip.strip("() "), f"{page}:{sample.line}"


def close_clients(namespace: dict[str, Any]) -> None:
    """Close the clients a page left open (a short script may; a test must not leak)."""
    for value in namespace.values():
        if isinstance(value, Client):
            value.close()
        elif isinstance(value, AsyncClient):
            asyncio.run(value.close())


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any name lookup of a host other than loopback fail, before a packet is sent."""
    resolve = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            loopback = ipaddress.ip_address(name.strip("[]")).is_loopback
        except ValueError:
            loopback = name == "localhost"
        if not loopback:
            raise OSError(f"docs samples may only reach loopback addresses, not {name!r}")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(DOCS)) for page in PAGES])
@pytest.mark.usefixtures("loopback_only")
def test_page_samples_run(
    page: Path, proxy_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENKRYPTAI_BASE_URL", proxy_emulator.url)
    monkeypatch.setenv("ENKRYPTAI_API_KEY", proxy_emulator.api_key)
    monkeypatch.setenv("ENKRYPTAI_DEPLOYMENT", proxy_emulator.deployment)
    namespace: dict[str, Any] = {"__name__": f"docs.{page.stem}"}
    ran = 0
    try:
        for sample in samples(page):
            if sample.skip is not None:
                continue
            # Leading newlines make a traceback name the line in the Markdown file.
            source = "\n" * sample.line + sample.code
            exec(
                compile(source, str(page), "exec"), namespace
            )  # our own docs, run like a reader would
            ran += 1
    finally:
        close_clients(namespace)
    assert ran, f"every sample of {page} is skipped: drop the page from the run"
