"""The alertmanager-webhook channel's lean HTTP/1.1 client: keep-alive reuse, a receiver
that closed an idle connection, every way an answer's body can be framed, and the webhook
channel's rules for what a failure means."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from opsbook.core.clock import FakeClock
from opsbook.notify.alertmanager_webhook.client import LeanClient
from opsbook.notify.alertmanager_webhook.config import AlertmanagerWebhookChannelConfig
from opsbook.notify.alertmanager_webhook.transport import AlertmanagerWebhookTransport
from opsbook.notify.base import DeliveryError, OutgoingNotification
from opsbook.notify.message import Message

pytestmark = pytest.mark.anyio
TIMEOUT = 30.0

Answer = Callable[[int], bytes]  # request number -> raw answer bytes
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


@dataclass
class RawReceiver:
    """An HTTP/1.1 receiver written at the socket level, to answer in any framing."""

    answer: Answer
    close_after: bool = False  # close the connection after each answer
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook?x=1"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                self.requests.append(head + await reader.readexactly(length))
                writer.write(self.answer(len(self.requests)))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


@pytest.fixture
async def raw() -> AsyncIterator[RawReceiver]:
    receiver = RawReceiver(answer=lambda n: OK)
    receiver.server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    yield receiver
    receiver.server.close()
    await asyncio.sleep(0.05)  # the handlers see their connections close
    await receiver.server.wait_closed()


async def test_requests_share_one_kept_alive_connection(raw: RawReceiver) -> None:
    client = LeanClient()
    try:
        for _ in range(3):
            answer = await client.post(raw.url, b'{"a":1}', {"Content-Type": "application/json"})
            assert answer.status == 200
    finally:
        await client.aclose()
    assert raw.connections == 1
    first = raw.requests[0]
    assert first.startswith(b"POST /hook?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nContent-Type: application/json\r\n" in first
    assert first.endswith(b'Content-Length: 7\r\n\r\n{"a":1}')


async def test_an_idle_connection_the_receiver_closed_is_replaced(raw: RawReceiver) -> None:
    raw.close_after = True
    client = LeanClient()
    try:
        for _ in range(3):
            assert (await client.post(raw.url, b"{}", {})).status == 200
            await asyncio.sleep(0.05)  # let the close arrive
    finally:
        await client.aclose()
    assert raw.connections == 3
    assert len(raw.requests) == 3


@pytest.mark.parametrize(
    ("answer", "body", "reused"),
    [
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nfail", b"fail", True),
        (
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nfai\r\n1;ext=1\r\nl\r\n0\r\nX-Trailer: 1\r\n\r\n",
            b"fail",
            True,
        ),
        (
            b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 4\r\n\r\nfail",
            b"fail",
            False,
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", b"", False),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b"", True),
    ],
)
async def test_every_framing_of_an_answer_is_read(
    raw: RawReceiver, answer: bytes, body: bytes, reused: bool
) -> None:
    raw.answer = lambda n: answer
    client = LeanClient()
    try:
        got = await client.post(raw.url, b"{}", {})
        assert got.body == body
        await client.post(raw.url, b"{}", {})
    finally:
        await client.aclose()
    assert raw.connections == (1 if reused else 2)


async def test_an_answer_read_until_close_is_complete() -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n{}")
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\nupstream down")
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = LeanClient()
    try:
        answer = await client.post(f"http://127.0.0.1:{port}/", b"{}", {})
    finally:
        await client.aclose()
        server.close()
    assert (answer.status, answer.body) == (502, b"upstream down")


def _transport(url: str, timeout: str = "10s") -> AlertmanagerWebhookTransport:
    return AlertmanagerWebhookTransport(
        AlertmanagerWebhookChannelConfig.model_validate(
            {"name": "am", "kind": "alertmanager-webhook", "url": url, "timeout": timeout}
        )
    )


def _delivery(clock: FakeClock) -> OutgoingNotification:
    return OutgoingNotification(
        notification_id=1,
        channel="am",
        message=Message(title="x"),
        idempotency_key="alerts:1:1:am",
        target=None,
        attempt=1,
        sent_at=clock.now(),
    )


async def _send_error(transport: AlertmanagerWebhookTransport, clock: FakeClock) -> DeliveryError:
    try:
        with pytest.raises(DeliveryError) as caught:
            await transport.send(_delivery(clock))
    finally:
        await transport.aclose()
    return caught.value


@pytest.mark.parametrize(
    ("answer", "retryable", "retry_after", "text"),
    [
        (
            b"HTTP/1.1 503 Busy\r\nRetry-After: 30\r\nContent-Length: 4\r\n\r\nbusy",
            True,
            30,
            "HTTP 503: busy",
        ),
        (b"HTTP/1.1 400 Bad\r\nContent-Length: 3\r\n\r\nbad", False, None, "HTTP 400: bad"),
        (
            b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n",
            False,
            None,
            "HTTP 302 (redirects are not followed)",
        ),
    ],
)
async def test_failures_follow_the_webhook_channels_rules(
    raw: RawReceiver,
    clock: FakeClock,
    answer: bytes,
    retryable: bool,
    retry_after: int | None,
    text: str,
) -> None:
    raw.answer = lambda n: answer
    error = await _send_error(_transport(raw.url), clock)
    assert (str(error), error.retryable) == (text, retryable)
    expected = None if retry_after is None else timedelta(seconds=retry_after)
    assert error.retry_after == expected
    assert b"\r\nIdempotency-Key: alerts:1:1:am\r\n" in raw.requests[0]


async def test_a_refused_connection_may_pass_next_time(clock: FakeClock) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = await _send_error(_transport(f"http://127.0.0.1:{port}/"), clock)
    assert error.retryable
    assert str(error).startswith("connection failed: ")


async def test_a_receiver_that_never_answers_times_out(clock: FakeClock) -> None:
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await done.wait()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        error = await _send_error(_transport(f"http://127.0.0.1:{port}/", "200ms"), clock)
    finally:
        done.set()
        await asyncio.sleep(0.05)
        server.close()
        await server.wait_closed()
    assert (str(error), error.retryable) == ("timed out after 0.2s", True)
