"""The proxy's header checks (``docs/proxy-api.md``, "Headers"), in the service's order.

Key first (401), then the deployment (400 when missing, 404 when unknown), then the
optional headers' syntax, then the emulator's own ``X-Emulator-Fault``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from ._config import Deployment, EmulatorConfig
from ._errors import ErrorReply, error_body, invalid
from ._faults import FAULT_HEADER, Faults

__all__ = ["authorize", "requested_faults"]


def authorize(
    headers: Mapping[str, str], config: EmulatorConfig
) -> tuple[str, Deployment] | ErrorReply:
    """The deployment a request may use, or the error reply that refuses it."""
    key = headers.get("apikey")
    if not key:
        return _unauthorized("Missing API key: send it in the 'apikey' header")
    # Compare as bytes, in constant time: a header may hold any latin-1 text.
    if not any(secrets.compare_digest(key.encode(), known.encode()) for known in config.api_keys):
        return _unauthorized("Invalid API key")  # never echo the key back
    name = headers.get("x-enkrypt-deployment", "").strip()
    if not name:
        return invalid(
            "X-Enkrypt-Deployment",
            "Missing deployment: send its saved name in the 'X-Enkrypt-Deployment' header",
            code="missing_deployment",
            status=400,
        )
    deployment = config.find_deployment(name)
    if deployment is None:
        body = error_body(
            f"Deployment {name!r} not found",
            type="not_found_error",
            code="deployment_not_found",
            param="X-Enkrypt-Deployment",
        )
        return ErrorReply(404, body)
    return _check_optional(headers) or (name, deployment)


def _unauthorized(message: str) -> ErrorReply:
    return ErrorReply(401, error_body(message, type="authentication_error", code="invalid_api_key"))


def _check_optional(headers: Mapping[str, str]) -> ErrorReply | None:
    tags = headers.get("x-enkrypt-tags")
    if tags is not None and not all(tag.strip() for tag in tags.split(",")):
        return invalid(
            "X-Enkrypt-Tags",
            f"X-Enkrypt-Tags must be comma-separated non-empty tags (got {tags!r})",
            status=400,
        )
    refresh = headers.get("x-enkrypt-refresh-cache")
    if refresh is not None and refresh.strip().lower() not in ("true", "false"):
        return invalid(
            "X-Enkrypt-Refresh-Cache",
            f"X-Enkrypt-Refresh-Cache must be true or false (got {refresh!r})",
            status=400,
        )
    return None


def requested_faults(headers: Mapping[str, str], deployment: Deployment) -> Faults | ErrorReply:
    """The request's own faults (``X-Emulator-Fault``), else its deployment's."""
    spec = headers.get(FAULT_HEADER.lower())
    if spec is None:
        return deployment.faults
    try:
        return Faults.parse(spec)
    except ValueError as exc:
        return invalid(FAULT_HEADER, f"Bad {FAULT_HEADER} header: {exc}", status=400)
