from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)

_STATUS = {
    200: b"OK",
    202: b"Accepted",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    413: b"Content Too Large",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class FrontRequest:
    """What a fast handler gets: header names lower-case, the whole body read."""

    method: str
    path: str
    query_string: bytes
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class FrontReply:
    """A JSON answer; ``headers`` beyond Content-Type and Content-Length."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()


FastHandler = Callable[[FrontRequest], Awaitable[FrontReply]]


class FastRoutes(Protocol):
    def fast_handler(self, method: str, path: str) -> FastHandler | None:
        """The handler that answers ``method path``, or None for the ASGI app."""

    def body_limit(self, path: str) -> int:
        """The largest body accepted for ``path``; a larger one is answered 413."""


def _head(reply: FrontReply, default_headers: list[tuple[bytes, bytes]], close: bool) -> bytes:
    reason = _STATUS.get(reply.status, b"")
    parts = [b"HTTP/1.1 %d %s\r\n" % (reply.status, reason)]
    for name, value in default_headers:
        parts += [name, b": ", value, b"\r\n"]
    parts.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(reply.body))
    for name, value in reply.headers:
        parts += [name, b": ", value, b"\r\n"]
    if close:
        parts.append(b"connection: close\r\n")
    parts += [b"\r\n", reply.body]
    return b"".join(parts)


def _error(status: int, message: str) -> FrontReply:
    reason = _STATUS[status].decode().lower().replace(" ", "_")
    body = {"status": status, "error": reason, "message": message}
    return FrontReply(status, json.dumps(body).encode())


def front_protocol(routes: Callable[[], FastRoutes | None]) -> type[Any]:
    """uvicorn's httptools protocol class, with ``routes()``'s endpoints served directly.

    ``routes`` is called per request (the routes may be set up after the server
    starts); when it returns None, or httptools is missing, everything goes to the app.

    >>> uvicorn.Config(app, http=front_protocol(lambda: runtime.intake))
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

    class FrontProtocol(HttpToolsProtocol):
        def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
            scope = cycle.scope
            table = routes()
            handler = None if table is None else table.fast_handler(scope["method"], scope["path"])
            if handler is None or table is None:
                super()._start_asgi_task(cycle, app)
                return
            task = self.loop.create_task(_serve(cycle, handler, table.body_limit(scope["path"])))
            task.add_done_callback(self.tasks.discard)
            self.tasks.add(task)

    return FrontProtocol


async def _serve(cycle: Any, handler: FastHandler, limit: int) -> None:
    """Read the body from the cycle's buffer, run ``handler``, write its reply at once.

    Mirrors what uvicorn's cycle does around an ASGI app: 100-continue, resuming
    reads while waiting for the body, keep-alive unless the client or a shutdown
    asked to close, and ``on_response`` to start the next pipelined request.
    """
    transport = cycle.transport
    try:
        if cycle.waiting_for_100_continue and not transport.is_closing():
            transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            cycle.waiting_for_100_continue = False
        chunks: list[bytes] = []
        size = 0
        while True:
            if cycle.body:
                chunk = bytes(cycle.body)
                cycle.body = bytearray()
                size += len(chunk)
                if size > limit:
                    await _finish(
                        cycle, _error(413, f"the body is larger than {limit} bytes"), True
                    )
                    return
                chunks.append(chunk)
            if not cycle.more_body or cycle.disconnected:
                break
            cycle.flow.resume_reading()
            await cycle.message_event.wait()
            cycle.message_event.clear()
        if cycle.disconnected:
            return
        scope = cycle.scope
        request = FrontRequest(
            method=scope["method"],
            path=scope["path"],
            query_string=scope["query_string"],
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body=chunks[0] if len(chunks) == 1 else b"".join(chunks),
        )
        reply = await handler(request)
    except Exception:
        log.exception("front.handler_failed", path=cycle.scope.get("path"))
        reply, close = _error(500, "internal error"), True
    else:
        close = False
    await _finish(cycle, reply, close)


async def _finish(cycle: Any, reply: FrontReply, close: bool) -> None:
    if cycle.flow.write_paused and not cycle.disconnected:
        await cycle.flow.drain()  # a client that does not read its answers: as uvicorn does
    if cycle.disconnected:
        return
    close = close or not cycle.keep_alive
    cycle.transport.write(_head(reply, cycle.default_headers, close))
    cycle.response_started = cycle.response_complete = True
    cycle.message_event.set()
    if close:
        cycle.transport.close()
    on_response, cycle.on_response = cycle.on_response, lambda: None
    on_response()
