"""Server-sent events from bytes, with bounded memory (no I/O).

The parsing rules are the WHATWG HTML standard's ("Server-sent events", 9.2.6): the stream
is UTF-8 whatever the ``Content-Type`` charset says, a leading byte order mark is dropped,
lines end at CRLF, LF or CR, a blank line dispatches the event, ``:`` starts a comment.
Only ``data`` and ``event`` matter to the proxy's streams (``id`` and ``retry`` serve
reconnection, which a completion cannot do).

Why not httpx-sse, which the SDK used before: it decodes text with the response's
charset, has no bound on a line or an event (a server that never sends a newline grows
memory without end), and needs the text decoded first; here the data stays bytes, handed
to pydantic as they came.
"""

from __future__ import annotations

__all__ = ["SSEDecoder", "SizeLimitExceeded", "UnreadableBody"]

_BOM = b"\xef\xbb\xbf"


class UnreadableBody(ValueError):
    """A reply body the client will not read: too large, or in a coding it cannot decode."""


class SizeLimitExceeded(UnreadableBody):
    """A reply, an error body or an event is larger than its configured limit."""

    def __init__(self, what: str, setting: str, limit: int) -> None:
        super().__init__(
            f"{what} exceeds {limit:,} bytes (ResponseLimits.{setting}); if replies this "
            f"large are expected, raise it: Client(response_limits=ResponseLimits({setting}=...))"
        )


class SSEDecoder:
    """Feed raw body bytes, get ``(event type, data)`` pairs of the complete events.

    ``max_event_bytes`` bounds one event, its lines together (so one line too): a larger
    one raises ``SizeLimitExceeded`` instead of growing memory.
    """

    __slots__ = (
        "_data",
        "_event",
        "_held",
        "_held_size",
        "_limit",
        "_partial",
        "_size",
        "_started",
    )

    def __init__(self, max_event_bytes: int) -> None:
        self._limit = max_event_bytes
        self._partial = b""
        """The bytes after the last line break (with a trailing CR held back)."""
        self._held: list[bytes] = []
        """Chunks after ``_partial`` with no line break, joined once one comes: joining at
        every read would copy a long line once per read (quadratic: 4.4 s for 30 MiB)."""
        self._held_size = 0
        self._data: list[bytes] = []
        self._event = b""
        self._size = 0
        self._started = False

    def feed(self, chunk: bytes) -> list[tuple[bytes, bytes]]:
        """The events completed by ``chunk``."""
        if (
            self._started
            and b"\n" not in chunk
            and b"\r" not in chunk
            and not self._partial.endswith(b"\r")
        ):
            self._held.append(chunk)  # no line ends here
            self._held_size += len(chunk)
            if len(self._partial) + self._held_size > self._limit - self._size:
                self._too_large()
            return []
        if self._held:
            self._partial += b"".join(self._held)
            self._held, self._held_size = [], 0
        if self._partial:
            chunk = self._partial + chunk
        if not self._started:
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._partial = chunk  # too short to tell whether it is a byte order mark
                return []
            self._started = True
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):  # it may be the first half of a CRLF
                chunk, self._partial = chunk[:-1], b"\r"
            else:
                self._partial = b""
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = chunk.split(b"\n")
            if self._partial:
                self._partial = lines.pop() + self._partial
            else:
                self._partial = lines.pop()
        else:
            lines = chunk.split(b"\n")
            self._partial = lines.pop()
        if len(self._partial) > self._limit - self._size:
            self._too_large()
        return self._lines(lines) if lines else []

    def end(self) -> list[tuple[bytes, bytes]]:
        """The events completed by the end of the body (a last CR ends its line)."""
        if self._partial.endswith(b"\r"):
            return self._lines([self._partial[:-1]])
        return []

    def _lines(self, lines: list[bytes]) -> list[tuple[bytes, bytes]]:
        events = []
        for line in lines:
            if not line:
                if self._data:
                    events.append((self._event, b"\n".join(self._data)))
                    self._data = []
                self._event = b""
                self._size = 0
                continue
            self._size += len(line)
            if self._size > self._limit:
                self._too_large()
            if line.startswith(b"data:"):  # nearly every line: the fast path
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
            elif line[0] != 0x3A:  # ":" starts a comment
                name, colon, value = line.partition(b":")
                if colon and value.startswith(b" "):
                    value = value[1:]
                if name == b"data":
                    self._data.append(value)
                elif name == b"event":
                    self._event = value
        return events

    def _too_large(self) -> None:
        raise SizeLimitExceeded("an event of the stream", "max_event_bytes", self._limit)
