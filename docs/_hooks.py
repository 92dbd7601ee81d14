"""MkDocs hook: the API reference must cover the public API, no more and no less.

Every name in ``completions_sdk.__all__`` (and the emulator's, Ray's and the pytest plugin's)
needs a ``::: completions_sdk.NAME`` block on some page, and every such block must name
something public. A gap or a stale entry is logged as a warning, which fails
``mkdocs build --strict``: adding a public name without documenting it breaks the build.
"""

from __future__ import annotations

import importlib
import logging
import re
from typing import Any

log = logging.getLogger("mkdocs.hooks.api_reference")

MODULES = (
    "completions_sdk",
    "completions_sdk.emulator",
    "completions_sdk.ray",
    "completions_sdk.testing",
)
UNDOCUMENTED = {"completions_sdk.__version__"}  # stated in prose on the reference index
_DIRECTIVE = re.compile(r"^:::\s+(completions_sdk[\w.]*)\s*$", re.MULTILINE)
_documented: set[str] = set()


def _public_names() -> set[str]:
    names: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(name)
        names.update(f"{name}.{member}" for member in module.__all__)
    return names - UNDOCUMENTED


def on_pre_build(config: Any) -> None:
    _documented.clear()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    _documented.update(_DIRECTIVE.findall(markdown))
    return markdown


def on_post_build(config: Any) -> None:
    public = _public_names()
    for name in sorted(public - _documented):
        log.warning("API reference: %s is public but has no '::: %s' block", name, name)
    for name in sorted(_documented - public - set(MODULES)):
        log.warning("API reference: '::: %s' documents a name that is not public", name)
