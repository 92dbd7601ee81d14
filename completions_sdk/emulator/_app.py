"""The ASGI application: ``POST /ai-proxy/completions`` as the proxy answers it.

A request goes through the same gates as at the real service, in order: headers,
scripted faults, body validation, input guardrails; then the deterministic "model"
answers, as one JSON body or as server-sent events.
"""

from __future__ import annotations

import json
from typing import Any

try:
    import anyio
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "completions_sdk.emulator needs Starlette and uvicorn: "
        "pip install 'completions-sdk[emulator]'"
    ) from exc

from ._bodies import ReplyMeta, chunk_bodies, completion_body
from ._config import Deployment, EmulatorConfig
from ._errors import ErrorReply, error_body, error_type, fault_reply, invalid
from ._faults import Faults
from ._generation import Generation, generate, prompt_texts
from ._guardrails import check_input, output_block, output_detections
from ._headers import authorize, requested_faults
from ._recording import RecordedRequest
from ._state import EmulatorState
from ._streaming import DONE, dropped_body, encode_event, paced, quiet_drops
from ._validation import validate_body

__all__ = ["COMPLETIONS_PATH", "OUTPUT_BLOCK_AFTER", "build_app", "create_app"]

COMPLETIONS_PATH = "/ai-proxy/completions"
OUTPUT_BLOCK_AFTER = 2
"""Content chunks a stream sends before the output guardrail's error event."""
_MALFORMED: Any = object()


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """The emulator as an ASGI application, to serve with any ASGI server.

    Args:
        config: what to accept and how to behave (default: ``EmulatorConfig()``).

    Returns:
        A Starlette application; its state is reachable as ``app.state.emulator``.
    """
    return build_app(EmulatorState(config or EmulatorConfig()))


def build_app(state: EmulatorState) -> Starlette:
    """The application serving ``state`` (which its owner may change at run time)."""
    quiet_drops()
    handler = _Completions(state)
    app = Starlette(
        routes=[Route(COMPLETIONS_PATH, handler.completions, methods=["POST"])],
        exception_handlers={HTTPException: handler.http_error},
    )
    app.state.emulator = state
    return app


class _Completions:
    """The endpoint; one instance per application."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    async def completions(self, request: Request) -> Response:
        """Answer one completion request."""
        body = await self._record(request)
        config = self.state.config
        authorized = authorize(request.headers, config)
        if isinstance(authorized, ErrorReply):
            return _error(authorized)
        name, deployment = authorized
        faults = requested_faults(request.headers, deployment)
        if isinstance(faults, ErrorReply):
            return _error(faults)
        if faults.is_empty or not self.state.counter.take(name, faults):
            faults = Faults()
        if faults.first_byte_delay:
            await anyio.sleep(faults.first_byte_delay)
        if faults.status is not None:
            return _error(fault_reply(faults))
        if body is _MALFORMED:
            return _error(
                invalid(None, "The body is not valid JSON", code="invalid_json", status=400)
            )
        problem = validate_body(body, context_length=config.context_length)
        if problem is None:
            problem = check_input(prompt_texts(body.get("prompt")), deployment)
        if problem is not None:
            return _error(problem)
        generation = generate(body)
        meta = ReplyMeta.new(
            deployment.model or body["model"],
            logprobs=body.get("logprobs") is not None,
            quirks=deployment.quirks,
        )
        if body.get("stream"):
            return self._stream(body, generation, meta, deployment, faults)
        if faults.drop_after is not None:
            return StreamingResponse(dropped_body(), media_type="application/json")
        text = generation.choices[0].text
        if deployment.block_output:
            return _error(output_block(text))
        return JSONResponse(completion_body(generation, meta, output_detections(text)))

    def _stream(
        self,
        body: dict[str, Any],
        generation: Generation,
        meta: ReplyMeta,
        deployment: Deployment,
        faults: Faults,
    ) -> Response:
        text = generation.choices[0].text
        if deployment.block_output:
            chunks = chunk_bodies(generation, meta, None, include_usage=False)
            content = [encode_event(chunk) for chunk in chunks[:OUTPUT_BLOCK_AFTER]]
            events = [*content, encode_event(output_block(text).body), DONE]
        else:
            include_usage = (body.get("stream_options") or {}).get("include_usage") is True
            chunks = chunk_bodies(
                generation, meta, output_detections(text), include_usage=include_usage
            )
            events = [*(encode_event(chunk) for chunk in chunks), DONE]
        delay = faults.token_delay
        stream = paced(
            events,
            delay=self.state.config.token_delay if delay is None else delay,
            drop_after=faults.drop_after,
            end_after=faults.end_after,
        )
        return StreamingResponse(
            stream, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """404 and 405 as JSON errors (any path other than the endpoint)."""
        await self._record(request)
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
        message = f"No route for {request.method} {request.url.path}"
        if status == 405:
            message = f"{request.method} is not allowed on {request.url.path}; use POST"
        body = error_body(
            message, type=error_type(status), code="not_found" if status == 404 else None
        )
        return JSONResponse(body, status_code=status, headers=headers)

    async def _record(self, request: Request) -> Any:
        """Record the request; its decoded JSON body, or ``_MALFORMED``."""
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            body = _MALFORMED
        recorded = RecordedRequest.capture(
            request.method,
            request.url.path,
            request.headers.items(),
            None if body is _MALFORMED else body,
        )
        self.state.requests.append(recorded)
        return body


def _error(reply: ErrorReply) -> Response:
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)
