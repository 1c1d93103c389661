"""What the HTTP-based channel kinds share: the POST, the error rules, the scrubbing.

One rule for every HTTP channel: a 5xx, 408 or 429 (after its ``Retry-After``), a
timeout or a connection error may pass next time; any other 4xx or a redirect means
the request or the URL is wrong, so the notification is parked dead.  Secrets (a chat
webhook's URL is one) are scrubbed from every error text.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from opsbook import __version__
from opsbook.notify.base import DeliveryError, OutgoingNotification, Transport
from opsbook.notify.message import Message

USER_AGENT = f"opsbook/{__version__}"
MAX_ERROR_BODY = 200
MAX_SUCCESS_BODY = 64 * 1024  # read past this, a success answer closes its connection instead
# A receiver asking to wait longer than this is more likely broken than busy.
MAX_RETRY_AFTER = timedelta(hours=24)
MIN_RETRY_AFTER = timedelta(seconds=1)
RETRYABLE_STATUS = frozenset({408, 429})
# Longer link URLs are refused by chat buttons (Slack's limit is the strictest).
MAX_LINK_URL = 3000


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's ``mrkdwn`` reserves for links and mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit(text: str, limit: int, escape: bool = False) -> str:
    """``text`` (escaped when asked) cut to ``limit`` characters, never inside an entity."""
    out = escape_mrkdwn(text) if escape else text
    if len(out) <= limit:
        return out
    kept, size = [], 0
    for char in text:
        piece = escape_mrkdwn(char) if escape else char
        if size + len(piece) > limit - 1:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept) + "…"


def link_targets(message: Message) -> list[tuple[str, str]]:
    """``(label, url)`` of the message's links and its Opsbook link, http(s) only."""
    links = [(link.label, link.url) for link in message.links]
    if message.url:
        links.append(("Open in Opsbook", message.url))
    return [
        (" ".join(label.split()) or url, url)  # Slack and Telegram refuse an empty label
        for label, url in links
        if url.lower().startswith(("http://", "https://")) and len(url) <= MAX_LINK_URL
    ]


async def read_head(response: httpx.Response, limit: int) -> bytes:
    head = b""
    async for chunk in response.aiter_bytes():
        head += chunk
        if len(head) >= limit:
            break
    return head[:limit]


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """``Retry-After`` as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            delay = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    # At least a second, so "Retry-After: 0" cannot spin through every attempt at once.
    return max(MIN_RETRY_AFTER, min(delay, MAX_RETRY_AFTER))


async def send_json(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    delivery: OutgoingNotification,
    timeout: httpx.Timeout,
    *,
    extra_headers: dict[str, str] | None = None,
    secrets: list[str] | None = None,
    content_type: str = "application/json; charset=utf-8",
) -> None:
    """POST a JSON ``body``; classify a failure the way the webhook channel does.

    Shared by the kinds that post JSON and read nothing back but the status (slack,
    teams, ntfy).  ``secrets`` are scrubbed from every error text; for the chat
    webhooks that is the URL itself.  Redirects are never followed.
    """
    secrets = secrets or []
    headers = {
        **(extra_headers or {}),
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
        "Idempotency-Key": delivery.idempotency_key,
    }
    try:
        async with client.stream(
            "POST", url, content=body, headers=headers, timeout=timeout, follow_redirects=False
        ) as response:
            if response.is_success:
                await _drain(response)
                return
            head = await read_head(response, MAX_ERROR_BODY * 4)
    except httpx.TimeoutException:
        raise DeliveryError(f"timed out after {timeout.read:g}s", retryable=True) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise DeliveryError(f"invalid URL: {type(exc).__name__}", retryable=False) from None
    except httpx.TransportError as exc:
        raise DeliveryError(
            f"connection failed: {type(exc).__name__}: {clean(str(exc), secrets)}", retryable=True
        ) from None
    raise classify(response, clean(head.decode("utf-8", "replace"), secrets), delivery.sent_at)


async def _drain(response: httpx.Response) -> None:
    """Read a success answer to its end (up to a bound) so its connection can be reused.

    Closing an unread response closes the connection, so every notification paid a new
    TCP (and TLS) handshake.  The 2xx is already the verdict: a body that is too long,
    slow or broken only costs the connection, never a resend.
    """
    with contextlib.suppress(httpx.HTTPError):
        await read_head(response, MAX_SUCCESS_BODY)


def classify(response: httpx.Response, detail: str, sent_at: datetime) -> DeliveryError:
    """The webhook channel's rule: 5xx, 408 and 429 may pass later; the rest will not."""
    return classify_status(
        response.status_code,
        detail,
        sent_at,
        redirect=response.is_redirect,
        retry_after=response.headers.get("Retry-After"),
    )


def classify_status(
    status: int, detail: str, sent_at: datetime, *, redirect: bool, retry_after: str | None
) -> DeliveryError:
    """:func:`classify` for an answer read by another client than httpx."""
    text = f"HTTP {status}" + (f": {detail}" if detail else "")
    if redirect:
        return DeliveryError(f"{text} (redirects are not followed)", retryable=False)
    if status >= 500 or status in RETRYABLE_STATUS:
        delay = parse_retry_after(retry_after, sent_at)
        return DeliveryError(text, retryable=True, retry_after=delay)
    return DeliveryError(text, retryable=False)


def clean(text: str, secrets: list[str]) -> str:
    """One line of at most ``MAX_ERROR_BODY`` characters with every secret redacted."""
    text = " ".join(text.split())
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    if len(text) > MAX_ERROR_BODY:
        text = text[:MAX_ERROR_BODY] + "…"
    return text


def url_secrets(url: str) -> list[str]:
    """The URL and its path: a receiver may echo either, and the path holds the token."""
    parsed = httpx.URL(url)
    path = parsed.raw_path.decode("ascii", "replace")
    return [url, path] if len(path) > 1 else [url]


class HttpTransport(Transport):
    """A kind that talks HTTP: one httpx client per channel, or one lent by a test.

    Subclasses declare ``config: TheirConfig``; the config must have a ``timeout``.
    """

    def __init__(self, config: Any, *, client: httpx.AsyncClient | None = None) -> None:
        self.config = config
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(follow_redirects=False)
        self._timeout = httpx.Timeout(config.timeout.total_seconds())

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()
