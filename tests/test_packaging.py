"""What the wheel says about itself: the licence and where the project lives.

``scripts/test`` builds the wheel and checks its metadata (``License-Expression``,
``License-File``) as ``pip show`` reads it; this checks the sources of that metadata.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def test_the_licence_file_is_the_mit_licence_the_metadata_names() -> None:
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) ")
    assert "Permission is hereby granted, free of charge" in text
    assert "LICENSE" in PYPROJECT["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]


def test_project_urls_point_at_one_repository() -> None:
    urls = PROJECT["urls"]
    mkdocs = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    [repository] = [
        line.split(": ", 1)[1] for line in mkdocs.splitlines() if line.startswith("repo_url:")
    ]
    assert urls["Source"] == repository
    assert urls["Issues"] == f"{repository}/issues"
    assert all(url.startswith(repository) for url in urls.values()), urls
    # A Changelog URL only with a changelog to point at.
    has_changelog = any(ROOT.glob("CHANGELOG*"))
    assert ("Changelog" in urls) == has_changelog
