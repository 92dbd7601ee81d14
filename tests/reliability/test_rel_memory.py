"""Memory follows the limits, not what the server sends (issue 12.8).

Each call runs in a process of its own (``_memory_probe.py``) that reports its peak RSS, so
the test runner's own history does not count. Before the fix (58c7303): a 500 MB body or
error body reached about 540 MB, a 0.5 MB gzip body inflating to 500 MB about 1 GB (and
the call returned), an SSE line without end grew until the server stopped, and 10^6
choices in a 27 MB reply took 852 MB. The limits (``ResponseLimits``): 64 MiB of a body,
1 MiB of an error body, 8 MiB of one event. The bounds asserted are generous (a loaded
machine changes time, not memory); the figures measured are in docs/reliability.md.
"""

from __future__ import annotations

import functools
import json
import os
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability._behaviours import generated
from tests.reliability._server import Behaviour, FaultServer

MIB = 1 << 20
BODY = 500 * MIB
"""What a hostile or broken server sends: far beyond every limit."""
_JSON_HEAD = b'{"id":"x","choices":[{"index":0,"text":"'
_ROOT = Path(__file__).resolve().parents[2]


def _probe(server: FaultServer, kind: str, limits: dict[str, int] | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "tests.reliability._memory_probe", kind, server.url]
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run(
        [*command, json.dumps(limits or {})], capture_output=True, cwd=_ROOT, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    print(kind, limits or "", report)  # the figures, with -s
    return report


def _filler(head: bytes, total: int, tail: bytes = b"", byte: bytes = b"a") -> Iterator[bytes]:
    yield head
    piece = byte * MIB
    for _ in range(total // MIB):
        yield piece
    yield tail


@functools.cache
def _gzip_bomb() -> bytes:
    """A gzip body of about 0.5 MB that inflates to ``BODY`` bytes of one JSON string.

    Each MiB is compressed after a full flush (no history), so its compressed bytes are the
    same every time: made once and repeated, instead of compressing 500 MB.
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = deflate.compress(_JSON_HEAD) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(b"a" * MIB) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.compress(b'"}]}') + deflate.flush()
    crc = zlib.crc32(_JSON_HEAD)
    for _ in range(BODY // MIB):
        crc = zlib.crc32(b"a" * MIB, crc)
    crc = zlib.crc32(b'"}]}', crc)
    size = len(_JSON_HEAD) + BODY + 4
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + head + block * (BODY // MIB) + tail + struct.pack("<II", crc, size % 2**32)


def _json(status: int = 200, **kwargs: Any) -> Behaviour:
    return generated(
        status, "application/json", lambda: _filler(_JSON_HEAD, BODY, b'"}]}'), **kwargs
    )


def _events(pieces: Any) -> Behaviour:
    return generated(200, "text/event-stream", pieces)


def _million_choices() -> Iterator[bytes]:
    yield b'{"id":"x","choices":['
    for start in range(0, 10**6, 10**4):
        yield b",".join(b'{"text":"","index":%d}' % i for i in range(start, start + 10**4)) + (
            b"," if start + 10**4 < 10**6 else b""
        )
    yield b"]}"


def test_a_500_mb_reply_fails_at_max_body_bytes(fault_server: FaultServer) -> None:
    fault_server.script(_json())
    report = _probe(fault_server, "complete")
    assert report["outcome"] == "APIResponseValidationError"
    assert "max_body_bytes" in report["message"]
    assert report["peak_mib"] < 250  # the limit (64 MiB) and change, not the body (500)


def test_a_declared_500_mb_reply_is_refused_before_reading(fault_server: FaultServer) -> None:
    fault_server.script(_json(content_length=BODY + 50))
    report = _probe(fault_server, "complete")
    assert report["outcome"] == "APIResponseValidationError"
    assert "max_body_bytes" in report["message"]
    assert report["peak_mib"] < report["baseline_mib"] + 20


def test_a_lower_body_limit_holds_as_set(fault_server: FaultServer) -> None:
    fault_server.script(_json())
    report = _probe(fault_server, "complete", {"max_body_bytes": MIB})
    assert report["outcome"] == "APIResponseValidationError"
    assert "1,048,576 bytes (ResponseLimits.max_body_bytes)" in report["message"]
    assert report["peak_mib"] < report["baseline_mib"] + 30


def test_a_gzip_bomb_fails_at_max_body_bytes(fault_server: FaultServer) -> None:
    bomb = _gzip_bomb()
    assert len(bomb) < MIB
    pieces = lambda: (bomb[i : i + 65536] for i in range(0, len(bomb), 65536))  # noqa: E731
    fault_server.script(
        generated(200, "application/json", pieces, headers={"Content-Encoding": "gzip"})
    )
    report = _probe(fault_server, "complete")
    assert report["outcome"] == "APIResponseValidationError"
    assert "max_body_bytes" in report["message"]
    assert report["peak_mib"] < 250


def test_a_500_mb_error_body_is_cut_at_max_error_body_bytes(fault_server: FaultServer) -> None:
    fault_server.script(
        generated(500, "text/html", lambda: _filler(b"<html>", BODY, b"</html>", b"x"))
    )
    report = _probe(fault_server, "complete")
    assert report["outcome"] == "InternalServerError"
    assert report["error_body_bytes"] == MIB
    assert report["peak_mib"] < report["baseline_mib"] + 50


def test_an_endless_sse_line_fails_at_max_event_bytes(fault_server: FaultServer) -> None:
    fault_server.script(_events(lambda: _filler(b"data: ", 200 * MIB)))
    report = _probe(fault_server, "stream")
    assert report["outcome"] == "APIResponseValidationError"
    assert "max_event_bytes" in report["message"]
    assert report["seconds"] < 15  # the deadline is 30 s: the limit ended it, not the deadline
    assert report["peak_mib"] < report["baseline_mib"] + 100


def test_data_lines_without_a_blank_line_fail_at_max_event_bytes(
    fault_server: FaultServer,
) -> None:
    line = b"data: " + b"b" * 1000 + b"\n"
    fault_server.script(_events(lambda: (line * 1000 for _ in range(200))))  # 200 MB
    report = _probe(fault_server, "stream")
    assert report["outcome"] == "APIResponseValidationError"
    assert "max_event_bytes" in report["message"]
    assert report["seconds"] < 15
    assert report["peak_mib"] < report["baseline_mib"] + 100


def test_a_million_choices_for_n_1_is_a_protocol_error(fault_server: FaultServer) -> None:
    fault_server.script(generated(200, "application/json", _million_choices))
    report = _probe(fault_server, "complete")
    assert report["outcome"] == "APIResponseValidationError"
    assert "choices" in report["message"]
    assert report["peak_mib"] < report["baseline_mib"] + 150  # before: 852 MB


@pytest.mark.parametrize("kind", ["complete", "stream"])
def test_a_20_mb_reply_within_the_limits_costs_a_small_multiple(
    fault_server: FaultServer, kind: str
) -> None:
    if kind == "complete":
        fault_server.script(_json_of_size(20 * MIB))
    else:  # 20 MB of text in events of 4 KiB
        event = b'data: {"id":"x","choices":[{"index":0,"text":"' + b"c" * 4096 + b'"}]}\n\n'
        count = 20 * MIB // len(event)
        fault_server.script(_events(lambda: [*(event for _ in range(count)), b"data: [DONE]\n\n"]))
    report = _probe(fault_server, kind)
    assert report["outcome"] == "Completion"
    assert report["peak_mib"] < 8 * 20 + 100


def _json_of_size(size: int) -> Behaviour:
    return generated(200, "application/json", lambda: _filler(_JSON_HEAD, size, b'"}]}'))
