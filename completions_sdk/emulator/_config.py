"""The emulator's configuration: accepted keys, deployments and their guardrails."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._faults import Faults
from ._quota import Quota

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_DEPLOYMENT",
    "DEFAULT_INJECTION_PATTERNS",
    "Deployment",
    "EmulatorConfig",
]

DEFAULT_API_KEY = "emulator-key"
DEFAULT_DEPLOYMENT = "test-deployment-1"
DEFAULT_INJECTION_PATTERNS = (
    r"ignore\s+(?:all\s+)?(?:the\s+)?(?:previous|prior|above)\s+instructions",
    r"disregard\s+(?:all\s+)?(?:the\s+)?(?:previous|prior|above)\s+instructions",
)
"""Regular expressions (searched case-insensitively) that the input guardrail blocks."""


class Deployment(BaseModel):
    """One deployment the emulator serves: its guardrails, default faults, quota and latency.

    Examples:
        >>> strict = Deployment(blocked_keywords=("password",), faults="status=503;times=1")
        >>> busy = Deployment(quota=Quota(requests_per_minute=3000), latency_ms=100)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    blocked_keywords: tuple[str, ...] = ()
    """Words that block a prompt containing them (case-insensitive substring match)."""
    injection_patterns: tuple[str, ...] = DEFAULT_INJECTION_PATTERNS
    """Regular expressions that block a prompt matching them (case-insensitive)."""
    block_output: bool = False
    """Block every reply at the output guardrail (a stream sends a few chunks first)."""
    faults: Faults = Faults()
    """Faults every request to this deployment suffers, unless it sends its own."""
    quota: Quota | None = None
    """Rate limits: over them a request is answered 429 with ``retry-after-ms``, and every
    reply carries the ``x-ratelimit-*`` headers (``None``: unlimited)."""
    latency_ms: Annotated[int, Field(ge=0, le=60_000)] = 0
    """Milliseconds every admitted request waits before it is answered (the model's time)."""
    model: str | None = None
    """Report this model in replies instead of the request's (the proxy may override it)."""
    quirks: bool = False
    """Reply like the public service was seen to: ``"text.completion"``, ``"eos"``,
    a big ``seed`` on each choice and ``"prompt": []`` (``docs/proxy-api.md``)."""

    @field_validator("faults", mode="before")
    @classmethod
    def _parse_faults(cls, value: Any) -> Any:
        # A configuration file may write faults in the header's grammar.
        return Faults.parse(value) if isinstance(value, str) else value

    @field_validator("blocked_keywords")
    @classmethod
    def _check_keywords(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not keyword.strip() for keyword in value):
            raise ValueError("a blocked keyword must not be blank")
        return value

    @field_validator("injection_patterns")
    @classmethod
    def _check_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        problems = [problem for problem in map(_regex_problem, value) if problem]
        if problems:
            raise ValueError(problems[0])
        return value


def _regex_problem(pattern: str) -> str | None:
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"{pattern!r} is not a regular expression: {exc}"
    return None


def _default_deployments() -> dict[str, Deployment]:
    return {DEFAULT_DEPLOYMENT: Deployment()}


class EmulatorConfig(BaseModel):
    """What the emulator accepts and how it behaves.

    ``EmulatorConfig()`` accepts the key ``"emulator-key"`` and the one deployment
    ``"test-deployment-1"``; any other deployment is answered 404, as the real proxy
    does, unless ``allow_any_deployment`` is set.

    Examples:
        >>> config = EmulatorConfig(
        ...     api_keys=("k1",), deployments={"d1": Deployment(block_output=True)}
        ... )
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    api_keys: Annotated[tuple[str, ...], Field(min_length=1)] = (DEFAULT_API_KEY,)
    """API keys accepted in the ``apikey`` header; the first is ``EmulatorServer.api_key``."""
    deployments: Annotated[Mapping[str, Deployment], Field(min_length=1)] = Field(
        default_factory=_default_deployments
    )
    """Deployments by name; the first is ``EmulatorServer.deployment``."""
    allow_any_deployment: bool = False
    """Serve unknown deployment names with a default ``Deployment()`` instead of a 404."""
    token_delay: Annotated[float, Field(ge=0, le=10)] = 0.0
    """Seconds between streamed events."""
    context_length: Annotated[int, Field(ge=1)] = 4096
    """Prompt tokens plus ``max_tokens`` may not exceed this (checked like the service)."""

    @field_validator("api_keys")
    @classmethod
    def _check_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not key or key != key.strip() for key in value):
            raise ValueError("an API key must be non-empty, without surrounding spaces")
        return value

    @classmethod
    def from_file(cls, path: str | Path) -> EmulatorConfig:
        """Load a configuration from a JSON file with the fields of this class.

        Faults may be written as objects or in the ``X-Emulator-Fault`` grammar:

        ```json
        {"api_keys": ["k1"],
         "deployments": {"d1": {"blocked_keywords": ["secret"],
                                "faults": "status=429;times=1;retry_after=0"}}}
        ```

        Raises:
            OSError: the file cannot be read.
            pydantic.ValidationError: the file is not a valid configuration.
        """
        return cls.model_validate_json(Path(path).read_bytes())

    @property
    def api_key(self) -> str:
        """The first accepted API key."""
        return self.api_keys[0]

    @property
    def deployment(self) -> str:
        """The name of the first deployment."""
        return next(iter(self.deployments))

    def find_deployment(self, name: str) -> Deployment | None:
        """The deployment called ``name``; a default one when any name is allowed."""
        found = self.deployments.get(name)
        if found is None and self.allow_any_deployment:
            return Deployment()
        return found
