"""The front protocol answers its fast routes straight from uvicorn's HTTP protocol and
hands every other request to the ASGI app; keep-alive, pipelining, chunked bodies,
100-continue, size limits, errors and graceful shutdown behave as HTTP/1.1 wants."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from opsbook.core.front import FastHandler, FastRoutes, FrontReply, FrontRequest, front_protocol

pytestmark = pytest.mark.anyio
TIMEOUT = 30.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Routes:
    """POST /fast echoes what it got; POST /boom raises; POST /slow waits for ``gate``."""

    seen: list[FrontRequest] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def fast_handler(self, method: str, path: str) -> FastHandler | None:
        if method != "POST":
            return None
        handlers: dict[str, FastHandler] = {
            "/fast": self.echo,
            "/boom": self.boom,
            "/slow": self.slow,
        }
        return handlers.get(path)

    def body_limit(self, path: str) -> int:
        return 1000

    async def echo(self, request: FrontRequest) -> FrontReply:
        self.seen.append(request)
        document = {
            "body": request.body.decode(),
            "query": request.query_string.decode(),
            "token": request.headers.get("authorization"),
        }
        return FrontReply(200, json.dumps(document).encode(), ((b"x-fast", b"1"),))

    async def boom(self, request: FrontRequest) -> FrontReply:
        raise RuntimeError("a bug")

    async def slow(self, request: FrontRequest) -> FrontReply:
        await self.gate.wait()
        return FrontReply(202, b'{"slow":true}')


async def asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    text = f"app {scope['method']} {scope['path']} {len(body)}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(text))],
        }
    )
    await send({"type": "http.response.body", "body": text})


@dataclass
class Served:
    port: int
    routes: Routes
    server: uvicorn.Server


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    routes = Routes()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    table: FastRoutes = routes
    config = uvicorn.Config(
        asgi_app,
        log_config=None,
        access_log=False,
        lifespan="off",
        http=front_protocol(lambda: table),
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(TIMEOUT):
        while not server.started:
            await asyncio.sleep(0.01)
    yield Served(port, routes, server)
    server.should_exit = True
    routes.gate.set()
    async with asyncio.timeout(TIMEOUT):
        await task
    sock.close()


async def _connect(served: Served) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", served.port)


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    async with asyncio.timeout(TIMEOUT):
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        status_line, *lines = head.split("\r\n")
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        return int(status_line.split()[1]), headers, await reader.readexactly(length)


def _post(path: str, body: bytes, *extra: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: test", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def test_a_fast_route_is_answered_with_json_and_the_connection_kept(served: Served) -> None:
    reader, writer = await _connect(served)
    writer.write(_post("/fast?x=1", b"first", "Authorization: Bearer t0ken"))
    status, headers, body = await _answer(reader)
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert headers["x-fast"] == "1"
    assert "connection" not in headers
    assert json.loads(body) == {"body": "first", "query": "x=1", "token": "Bearer t0ken"}
    writer.write(_post("/fast", b"second"))
    status, _, body = await _answer(reader)
    assert (status, json.loads(body)["body"]) == (200, "second")
    writer.close()


async def test_other_requests_reach_the_app_unchanged(served: Served) -> None:
    reader, writer = await _connect(served)
    writer.write(b"GET /fast HTTP/1.1\r\nHost: test\r\n\r\n")
    status, headers, body = await _answer(reader)
    assert (status, headers["content-type"], body) == (200, "text/plain", b"app GET /fast 0")
    writer.write(_post("/elsewhere", b"abc"))
    assert (await _answer(reader))[2] == b"app POST /elsewhere 3"
    writer.close()
    assert served.routes.seen == []


async def test_pipelined_requests_are_answered_in_order(served: Served) -> None:
    reader, writer = await _connect(served)
    writer.write(
        _post("/fast", b"one") + b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n" + _post("/fast", b"3")
    )
    first, second, third = [await _answer(reader) for _ in range(3)]
    assert json.loads(first[2])["body"] == "one"
    assert second[2] == b"app GET /x 0"
    assert json.loads(third[2])["body"] == "3"
    writer.close()


async def test_a_chunked_body_is_read_whole(served: Served) -> None:
    reader, writer = await _connect(served)
    writer.write(
        b"POST /fast HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    )
    await asyncio.sleep(0.05)  # the rest arrives in a later packet
    writer.write(b"6\r\n world\r\n0\r\n\r\n")
    status, _, body = await _answer(reader)
    assert (status, json.loads(body)["body"]) == (200, "hello world")
    writer.close()


async def test_expect_100_continue_is_answered_before_the_body(served: Served) -> None:
    reader, writer = await _connect(served)
    writer.write(
        b"POST /fast HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
    )
    async with asyncio.timeout(TIMEOUT):
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(b"body")
    status, _, body = await _answer(reader)
    assert (status, json.loads(body)["body"]) == (200, "body")
    writer.close()


async def test_a_body_over_the_limit_gets_413_json_and_the_connection_closes(
    served: Served,
) -> None:
    reader, writer = await _connect(served)
    writer.write(_post("/fast", b"x" * 1001))
    status, headers, body = await _answer(reader)
    assert status == 413
    assert headers["connection"] == "close"
    assert json.loads(body)["error"] == "content_too_large"
    async with asyncio.timeout(TIMEOUT):
        assert await reader.read() == b""
    assert served.routes.seen == []
    writer.close()


async def test_a_failing_handler_gets_500_json_never_a_traceback(served: Served) -> None:
    reader, writer = await _connect(served)
    writer.write(_post("/boom", b"{}"))
    status, headers, body = await _answer(reader)
    assert (status, headers["connection"]) == (500, "close")
    assert json.loads(body) == {
        "status": 500,
        "error": "internal_server_error",
        "message": "internal error",
    }
    assert b"Traceback" not in body
    writer.close()


async def test_connection_close_and_http_1_0_are_honoured(served: Served) -> None:
    reader, writer = await _connect(served)
    writer.write(_post("/fast", b"a", "Connection: close"))
    status, headers, _ = await _answer(reader)
    assert (status, headers["connection"]) == (200, "close")
    async with asyncio.timeout(TIMEOUT):
        assert await reader.read() == b""
    writer.close()
    reader, writer = await _connect(served)
    writer.write(_post("/fast", b"b").replace(b"HTTP/1.1", b"HTTP/1.0", 1))
    status, headers, _ = await _answer(reader)
    assert (status, headers["connection"]) == (200, "close")
    writer.close()


async def test_a_malformed_request_is_refused_with_400(served: Served) -> None:
    reader, writer = await _connect(served)
    writer.write(b"POST /fast HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
    async with asyncio.timeout(TIMEOUT):
        answer = await reader.read()
    assert answer.startswith(b"HTTP/1.1 400")
    assert served.routes.seen == []
    writer.close()


async def test_shutdown_lets_a_request_in_flight_finish(served: Served) -> None:
    reader, writer = await _connect(served)
    writer.write(_post("/slow", b""))
    await asyncio.sleep(0.1)
    served.server.should_exit = True
    await asyncio.sleep(0.1)
    served.routes.gate.set()
    status, headers, body = await _answer(reader)
    assert (status, body, headers["connection"]) == (202, b'{"slow":true}', "close")
    writer.close()
