"""The Python samples of a documentation page, as the docs tests run them.

Shared by ``tests/test_docs.py`` (every page) and ``tests/test_ray.py`` (the Ray page,
whose samples need a cluster).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import NamedTuple

__all__ = ["Sample", "samples"]

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
