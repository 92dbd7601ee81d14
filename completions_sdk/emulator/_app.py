"""The ASGI application: the proxy's two endpoints, as the proxy answers them.

``POST /ai-proxy/completions`` and ``POST /ai-proxy/chat/completions`` go through the same
gates as at the real service, in order: headers, scripted faults, body validation, the
quota (``_quota``), the deployment's latency, input guardrails; then the deterministic
"model" answers, as one JSON body or as server-sent events, with the same output
guardrails, pacing and cuts. What differs between the two is described in ``_endpoints``.
Each reply is recorded (``EmulatorState.replies``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

try:
    import anyio
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "completions_sdk.emulator needs Starlette and uvicorn: "
        "pip install 'completions-sdk[emulator]'"
    ) from exc

from ._bodies import Answer
from ._config import Deployment, EmulatorConfig
from ._endpoints import CHAT, COMPLETIONS, ENDPOINTS, Endpoint
from ._errors import ErrorReply, error_body, error_type, fault_reply, invalid
from ._faults import Faults
from ._guardrails import check_input, output_block, output_detections
from ._headers import authorize, requested_faults
from ._recording import RecordedRequest, ServedReply
from ._state import EmulatorState
from ._streaming import DONE, dropped_body, encode_event, paced, quiet_drops

__all__ = ["CHAT_PATH", "COMPLETIONS_PATH", "OUTPUT_BLOCK_AFTER", "build_app", "create_app"]

COMPLETIONS_PATH = COMPLETIONS.path
CHAT_PATH = CHAT.path
OUTPUT_BLOCK_AFTER = 2
"""Chunks a stream sends before the output guardrail's error event."""
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
    proxy = _Proxy(state)
    app = Starlette(
        routes=[Route(ep.path, proxy.route(ep), methods=["POST"]) for ep in ENDPOINTS],
        exception_handlers={HTTPException: proxy.http_error},
        middleware=[Middleware(_RequestIds)],
    )
    app.state.emulator = state
    return app


@dataclass
class _Call:
    """One request on its way through the gates."""

    endpoint: Endpoint
    request: Request
    body: Any
    config: EmulatorConfig
    """One configuration for all the gates, even if it changes meanwhile."""
    now: float
    """When it was received, on the state's clock (what the quota and the log read)."""
    throttled: bool = False
    """Refused by the quota."""


class _Proxy:
    """The endpoints' shared machinery; one instance per application."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def route(self, endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        """The request handler of one endpoint."""

        async def handle(request: Request) -> Response:
            return await self.answer(endpoint, request)

        return handle

    async def answer(self, endpoint: Endpoint, request: Request) -> Response:
        """Answer one request to ``endpoint``, recording how."""
        body = await self._record(request)
        call = _Call(endpoint, request, body, self.state.config, self.state.clock())
        authorized = authorize(request.headers, call.config)
        if isinstance(authorized, ErrorReply):
            return self._served(call, None, _error(authorized))
        name, deployment = authorized
        response = await self._answer(call, name, deployment)
        if deployment.quota is not None:  # on every reply of a limited deployment
            now = self.state.clock()
            response.headers.update(self.state.quotas.headers(name, deployment.quota, now))
        return self._served(call, name, response)

    async def _answer(self, call: _Call, name: str, deployment: Deployment) -> Response:
        admitted = await self._admit(call, name, deployment)
        if isinstance(admitted, ErrorReply):
            return _error(admitted)
        faults, tokens = admitted
        if deployment.latency_ms:
            await anyio.sleep(deployment.latency_ms / 1000)
        body = call.body
        problem = check_input(call.endpoint.input_texts(body), deployment)
        if problem is not None:
            return _error(problem)
        answer = call.endpoint.answer(body, deployment)
        if deployment.quota is not None:  # the estimate, settled against the real usage
            used = answer.generation.usage()["total_tokens"]
            self.state.quotas.correct(name, deployment.quota, tokens, used, self.state.clock())
        if body.get("stream"):
            return self._stream(body, answer, deployment, faults)
        if faults.drop_after is not None:
            return StreamingResponse(dropped_body(), media_type="application/json")
        if deployment.block_output:
            return _error(output_block(answer.text))
        return JSONResponse(answer.body(output_detections(answer.text)))

    async def _admit(
        self, call: _Call, name: str, deployment: Deployment
    ) -> tuple[Faults, int] | ErrorReply:
        """Scripted faults, JSON, the body's rules, then the quota: faults in force, tokens."""
        faults = requested_faults(call.request.headers, deployment)
        if isinstance(faults, ErrorReply):
            return faults
        if faults.is_empty or not self.state.counter.take(name, faults):
            faults = Faults()
        if faults.first_byte_delay:
            await anyio.sleep(faults.first_byte_delay)
        if faults.status is not None:
            return fault_reply(faults)
        if call.body is _MALFORMED:
            return invalid(None, "The body is not valid JSON", code="invalid_json", status=400)
        problem = call.endpoint.validate(call.body, call.config.context_length)
        if problem is not None:
            return problem
        tokens = call.endpoint.tokens_requested(call.body)
        if deployment.quota is not None:
            problem = self.state.quotas.admit(name, deployment.quota, tokens, call.now)
            call.throttled = problem is not None
        return problem or (faults, tokens)

    def _served(self, call: _Call, deployment: str | None, response: Response) -> Response:
        reply = ServedReply(call.now, deployment, response.status_code, call.throttled)
        self.state.replies.append(reply)
        return response

    def _stream(
        self, body: dict[str, Any], answer: Answer, deployment: Deployment, faults: Faults
    ) -> Response:
        if deployment.block_output:
            chunks = answer.chunks(None, include_usage=False)
            content = [encode_event(chunk) for chunk in chunks[:OUTPUT_BLOCK_AFTER]]
            events = [*content, encode_event(output_block(answer.text).body), DONE]
        else:
            include_usage = (body.get("stream_options") or {}).get("include_usage") is True
            chunks = answer.chunks(output_detections(answer.text), include_usage=include_usage)
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
        self.state.replies.append(ServedReply(self.state.clock(), None, status))
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


class _RequestIds:
    """Give every reply an ``x-request-id``, unique per request, as the proxy's replies have.

    Plain ASGI (not ``BaseHTTPMiddleware``, which buffers streams): the header is added to
    the response's start, so JSON replies, event streams and errors all carry it.
    """

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req_{uuid.uuid4().hex}".encode()

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                message["headers"] = [*headers, (b"x-request-id", request_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)


def _error(reply: ErrorReply) -> Response:
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)
