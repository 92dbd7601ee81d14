"""The Python samples in ``docs/`` and the README run against the emulator, as a reader would.

The samples of a page run in order, in one namespace (a later sample may use what an
earlier one defined), with the ``ENKRYPTAI_*`` variables pointing at the ``proxy_emulator``
fixture. A sample that cannot run here is marked, on the line before its fence, with
``<!-- docs-test: skip (the reason) -->``. Samples may reach loopback addresses only.

Also checked here: what the pages tell a new user to type works today (no install by name
before the package is published), and the sources cite only documents the repository holds.
"""

from __future__ import annotations

import ast
import asyncio
import ipaddress
import itertools
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from completions_sdk import AsyncClient, Client
from completions_sdk.emulator import EmulatorServer
from tests._support.docs import samples

ROOT = Path(__file__).parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PROXY_PAGE = DOCS / "proxy-api.md"

# Pages whose samples need more than the SDK: another test module runs them.
RUN_ELSEWHERE = {"scale-out.md"}  # needs Ray: tests/test_ray.py
PAGES = [
    *sorted(
        page for page in DOCS.rglob("*.md") if samples(page) and page.name not in RUN_ELSEWHERE
    ),
    README,
]


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


def test_the_readme_samples_are_run() -> None:
    # Its async sample once opened with a top-level ``async with``: a SyntaxError in a script.
    assert len(samples(README)) >= 3
    assert all(sample.skip is None for sample in samples(README))


@pytest.mark.parametrize("page", PAGES, ids=[str(page.relative_to(ROOT)) for page in PAGES])
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


# ``pip install completions-sdk``, ``pip install 'completions-sdk[emulator]'``: by name.
BY_NAME = re.compile(r"pip install\s+(?:-\S+\s+)*['\"]?completions-sdk\b")
# Pages reworked in another branch at the time; their install lines go the same way there.
OTHER_OWNERS = {"performance.md"}
ONCE_PUBLISHED = re.compile(r"once (?:it is )?published", re.IGNORECASE)


def test_no_page_installs_by_name_before_the_package_is_published() -> None:
    # Not on PyPI yet: ``pip install completions-sdk`` fails, so a page says how to install
    # from a checkout, and gives the name only as what will work once published.
    pages = [page for page in DOCS.rglob("*.md") if page.name not in OTHER_OWNERS]
    texts = [*pages, README, ROOT / "examples" / "quickstart.ipynb"]
    wrong = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in texts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if BY_NAME.search(line) and not ONCE_PUBLISHED.search(line)
    ]
    assert not wrong, "\n".join(wrong)
    assert "pip install ./completions-sdk" in (DOCS / "index.md").read_text(encoding="utf-8")


CITATION = re.compile(r'``docs/proxy-api\.md``(?:, "(?P<section>[^"]+)"|\s*\("(?P<also>[^"]+)"\))?')
OUTSIDE = ("PROXY" + "_API", "shared/" + "spec")  # split: this file must not match itself


def test_sources_cite_the_proxy_page_in_the_repository() -> None:
    headings = set(re.findall(r"^#+ (.+)$", PROXY_PAGE.read_text(encoding="utf-8"), re.MULTILINE))
    cited = 0
    for folder in ("completions_sdk", "tests", "docs", "examples", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for outside in OUTSIDE:
                assert outside not in text, f"{path} cites {outside}, not in the repository"
            for match in CITATION.finditer(text):
                section = match["section"] or match["also"]
                assert section is None or section in headings, f"{path}: no section {section!r}"
                cited += 1
    assert cited >= 10


def field_docstring(path: Path, cls: str, field: str) -> str:
    """The docstring under ``field`` in ``class cls`` (what mkdocstrings shows)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    [body] = [
        node.body for node in tree.body if isinstance(node, ast.ClassDef) and node.name == cls
    ]
    for node, after in itertools.pairwise(body):
        target = getattr(node, "target", None)
        if isinstance(target, ast.Name) and target.id == field:
            assert isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
            return str(after.value.value)
    raise AssertionError(f"no field {field} in {cls}")


def test_where_people_look_says_dumps_need_by_alias_for_the_wire_name() -> None:
    # model_dump_json() writes policy_detections; the proxy's name needs by_alias=True.
    models = ROOT / "completions_sdk" / "_reply_base.py"
    docstring = field_docstring(models, "ProxyBody", "policy_detections")
    assert "by_alias=True" in docstring and "enkrypt_policy_detections" in docstring
    errors = (DOCS / "errors.md").read_text(encoding="utf-8")
    assert "model_dump_json(by_alias=True)" in errors  # in a sample test_page_samples_run runs
