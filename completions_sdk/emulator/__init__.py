"""A local emulator of the AI Completions Proxy, for tests and offline development.

It serves ``POST /ai-proxy/completions`` and ``POST /ai-proxy/chat/completions`` with the
proxy's headers, guardrails and error shapes, deterministic replies, scripted faults,
and per-deployment quotas.

Needs the ``emulator`` extra (``pip install 'completions-sdk[emulator]'``); importing
``completions_sdk`` alone never imports Starlette or uvicorn.
"""

from ._app import create_app
from ._config import Deployment, EmulatorConfig
from ._faults import FAULT_HEADER, Faults
from ._quota import Quota
from ._recording import RecordedRequest, ReplyLog, RequestLog, ServedReply
from ._server import EmulatorServer, serve

__all__ = [
    "FAULT_HEADER",
    "Deployment",
    "EmulatorConfig",
    "EmulatorServer",
    "Faults",
    "Quota",
    "RecordedRequest",
    "ReplyLog",
    "RequestLog",
    "ServedReply",
    "create_app",
    "serve",
]
