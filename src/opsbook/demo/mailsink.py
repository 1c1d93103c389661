"""A local SMTP sink for the demo: accepts every mail and prints what it received.

Just enough SMTP (RFC 5321: HELO/EHLO, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP,
QUIT) for Opsbook's email channel to deliver to it over loopback, so the demo's pages
arrive as real mail without a mail server.  Not a relay: nothing leaves the process.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
from collections.abc import Callable
from email.message import EmailMessage

MAX_MESSAGE_BYTES = 1_000_000


class MailSink:
    """``sink.start()`` serves on ``host:port`` in a thread; ``received`` holds the mails."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_mail: Callable[[EmailMessage], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.on_mail = on_mail
        self.received: list[EmailMessage] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-mail-sink", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the mail sink did not start")

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(
            asyncio.start_server(self._session, self.host, self.port)
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._ready.set()
        loop.run_forever()
        self._server.close()
        loop.run_until_complete(self._server.wait_closed())
        loop.close()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await reply("220 opsbook-demo mail sink")
        try:
            while line := await reader.readline():
                verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
                if verb == "EHLO":
                    await reply("250-opsbook-demo\r\n250 8BITMIME")
                elif verb in ("HELO", "MAIL", "RCPT", "RSET", "NOOP"):
                    await reply("250 OK")
                elif verb == "DATA":
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    self._deliver(await self._read_data(reader))
                    await reply("250 OK: queued")
                elif verb == "QUIT":
                    await reply("221 Bye")
                    break
                else:
                    await reply("502 Command not implemented")
        finally:
            writer.close()

    @staticmethod
    async def _read_data(reader: asyncio.StreamReader) -> bytes:
        lines: list[bytes] = []
        size = 0
        while (line := await reader.readline()) not in (b".\r\n", b".\n", b""):
            size += len(line)
            if size <= MAX_MESSAGE_BYTES:
                lines.append(line[1:] if line.startswith(b"..") else line)
        return b"".join(lines)

    def _deliver(self, data: bytes) -> None:
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        if self.on_mail is not None:
            self.on_mail(message)


def describe_mail(message: EmailMessage) -> str:
    """What the demo prints for a received mail: who, what, and its links."""
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    links = re.findall(r"^([A-Z][A-Za-z ]+): (https?://\S+)\s*$", text, re.MULTILINE)
    lines = [
        f"[mail sink] to {message['To']}: {message['Subject']}",
        *(f"            {label}: {url}" for label, url in links),
    ]
    return "\n".join(lines)
