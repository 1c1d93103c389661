"""A minimal HTTP/1.1 client wire format: one request, one response, then close.

Enough of RFC 9112 for health checks: Content-Length and chunked bodies, a body read up
to a cap, interim 1xx answers skipped. No pooling, no compression: every run is a fresh
connection and ``Connection: close``, which is what makes its timings real.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from opsbook.checks.base import ProbeError, Stopwatch

BODY_CAP = 1024 * 1024  # what a health check needs to read; the rest is not our business
_HEADER_CAP = 64 * 1024
_USER_AGENT = "Opsbook-Probe/1"


@dataclass(frozen=True, slots=True)
class Request:
    """A request ready to write, built once per URL (cheap runs are the point)."""

    url: str
    method: str
    host: str
    port: int
    https: bool
    data: bytes


def build_request(
    url: str, *, method: str, headers: Mapping[str, str], body: str | None
) -> Request:
    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if https else 80)
    default_port = port == (443 if https else 80)
    host_header = f"[{host}]" if ":" in host else host
    if not default_port:
        host_header += f":{port}"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    fields: dict[str, tuple[str, str]] = {
        "host": ("Host", host_header),
        "user-agent": ("User-Agent", _USER_AGENT),
        "accept": ("Accept", "*/*"),
    }
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        token = base64.b64encode(credentials.encode()).decode()
        fields["authorization"] = ("Authorization", f"Basic {token}")
    for name, value in headers.items():
        fields[name.lower()] = (name, value)
    payload = body.encode() if body is not None else b""
    if body is not None or method in ("POST", "PUT", "PATCH"):
        fields["content-length"] = ("Content-Length", str(len(payload)))
    fields["connection"] = ("Connection", "close")
    lines = [f"{method} {target} HTTP/1.1", *(f"{n}: {v}" for n, v in fields.values())]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload
    return Request(url, method, host, port, https, data)


@dataclass(frozen=True, slots=True)
class Response:
    version: str
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    truncated: bool


class _Buffered:
    """A StreamReader with bytes already read in front of it."""

    def __init__(self, reader: asyncio.StreamReader, data: bytes | bytearray) -> None:
        self.reader = reader
        self.buffer = bytearray(data)

    async def fill(self) -> bool:
        chunk = await self.reader.read(65536)
        self.buffer += chunk
        return bool(chunk)

    async def line(self) -> bytes:
        while (end := self.buffer.find(b"\r\n")) < 0:
            if len(self.buffer) > _HEADER_CAP or not await self.fill():
                raise _broken("a chunked body ended early")
        line = bytes(self.buffer[:end])
        del self.buffer[: end + 2]
        return line

    async def take(self, count: int) -> bytes:
        """Up to ``count`` bytes; fewer only at EOF."""
        while len(self.buffer) < count and await self.fill():
            pass
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data


def _broken(message: str) -> ProbeError:
    return ProbeError("protocol", message)


async def read_response(reader: asyncio.StreamReader, *, method: str, watch: Stopwatch) -> Response:
    """Read one response; records ``ttfb`` at the first byte of the answer."""
    first = await reader.read(65536)
    if not first:
        raise _broken("the server closed the connection without answering")
    watch.lap("ttfb")
    stream = _Buffered(reader, first)
    while True:
        while (end := stream.buffer.find(b"\r\n\r\n")) < 0:
            if len(stream.buffer) > _HEADER_CAP:
                raise _broken("the response headers are larger than 64 KiB")
            if not await stream.fill():
                raise _broken("the connection closed in the middle of the response headers")
        head = bytes(stream.buffer[:end]).decode("latin-1")
        del stream.buffer[: end + 4]
        version, status, reason, headers = _parse_head(head)
        if not (100 <= status < 200 and status != 101):
            break  # 1xx answers are interim: the real one follows
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return Response(version, status, reason, headers, b"", False)
    body, truncated = await _read_body(stream, headers)
    return Response(version, status, reason, headers, body, truncated)


def _parse_head(head: str) -> tuple[str, int, str, dict[str, str]]:
    status_line, *lines = head.split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise _broken(f"not an HTTP response: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise _broken(f"malformed header line: {line[:80]!r}")
        key = name.strip().lower()
        value = value.strip()
        # Repeated fields combine as a list (RFC 9110 5.3).
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return (
        parts[0].removeprefix("HTTP/"),
        int(parts[1]),
        parts[2] if len(parts) > 2 else "",
        headers,
    )


async def _read_body(stream: _Buffered, headers: dict[str, str]) -> tuple[bytes, bool]:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(stream)
    length_text = headers.get("content-length")
    if length_text is not None:
        try:
            length = int(length_text.split(",")[0])
        except ValueError:
            raise _broken(f"invalid Content-Length {length_text!r}") from None
        body = await stream.take(min(length, BODY_CAP))
        if len(body) < min(length, BODY_CAP):
            raise _broken(f"the connection closed after {len(body)} of {length} body bytes")
        return body, length > BODY_CAP
    body = await stream.take(BODY_CAP)  # no length: the body ends when the connection does
    return body, len(body) == BODY_CAP and await stream.fill()


async def _read_chunked(stream: _Buffered) -> tuple[bytes, bool]:
    body = bytearray()
    while True:
        size_text = (await stream.line()).split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _broken(f"invalid chunk size {size_text[:20]!r}") from None
        if size == 0:
            return bytes(body), False  # trailers are of no interest; we close anyway
        if len(body) + size > BODY_CAP:
            body += await stream.take(BODY_CAP - len(body))
            return bytes(body), True
        chunk = await stream.take(size)
        if len(chunk) < size:
            raise _broken("a chunked body ended early")
        body += chunk
        await stream.line()
