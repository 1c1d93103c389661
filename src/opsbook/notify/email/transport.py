"""The email channel: one multipart (text + HTML) mail per notification over SMTP.

``smtplib`` is blocking, so a send runs in a thread; its socket timeout bounds every
SMTP step.  A retried notification carries the same ``Message-ID`` (derived from the
idempotency key), which lets mail clients and archives fold a repeat into one.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from pathlib import Path

import structlog

from opsbook.notify.base import (
    DeliveryError,
    OutgoingNotification,
    Transport,
    render_html,
    render_subject,
    render_text,
)
from opsbook.notify.email.config import EmailChannelConfig

log = structlog.get_logger(__name__)

IDEMPOTENCY_HEADER = "X-Opsbook-Idempotency-Key"
_ADDRESS = re.compile(r"[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+")


def message_id(idempotency_key: str, domain: str) -> str:
    """The ``Message-ID`` every attempt at one notification shares."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<opsbook.{digest}@{domain}>"


class EmailTransport(Transport):
    """Sends through the channel's SMTP server; a delivery's ``target`` replaces ``to``.

    ``ssl_context`` (or ``ca_file``) decides which certificates are trusted for
    ``tls``/``starttls``; the default is the system's trust store with hostname checks.
    """

    kind = "email"
    config_model = EmailChannelConfig

    def __init__(
        self,
        config: EmailChannelConfig,
        *,
        ssl_context: ssl.SSLContext | None = None,
        ca_file: str | Path | None = None,
        local_hostname: str | None = None,
    ) -> None:
        self.config = config
        ca_file = ca_file or config.smtp.ca_file
        if ssl_context is None:
            ssl_context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._ssl_context = ssl_context
        self._local_hostname = local_hostname
        self._sender = parseaddr(config.from_)[1]

    @classmethod
    def check_target(cls, target: str) -> None:
        if not _ADDRESS.fullmatch(target):
            raise ValueError(
                f"an email target must be one address like ann@example.com, got {target!r}"
            )

    def build(self, delivery: OutgoingNotification) -> EmailMessage:
        """The mail for ``delivery``, as the receiving server will see it."""
        message = delivery.message
        mail = EmailMessage()
        mail["Subject"] = render_subject(message)
        mail["From"] = self.config.from_
        mail["To"] = delivery.target or ", ".join(self.config.to)
        mail["Date"] = format_datetime(delivery.sent_at)
        domain = self._sender.rpartition("@")[2] or "opsbook.invalid"
        mail["Message-ID"] = message_id(delivery.idempotency_key, domain)
        mail[IDEMPOTENCY_HEADER] = " ".join(delivery.idempotency_key.split())
        # RFC 3834: tells vacation responders not to answer a machine.
        mail["Auto-Submitted"] = "auto-generated"
        if message.unsubscribe_url:
            # RFC 2369 and RFC 8058: mail clients offer a one-click unsubscribe, which
            # POSTs "List-Unsubscribe=One-Click" to the URL.
            # A URL has no spaces to fold at; left to the default 78 columns it would be
            # written as RFC 2047 encoded words, which no mail client reads as a link.
            mail.policy = mail.policy.clone(max_line_length=998)
            mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(render_text(message))
        mail.add_alternative(render_html(message), subtype="html")
        return mail

    async def send(self, delivery: OutgoingNotification) -> None:
        mail = self.build(delivery)
        recipients = [address for _, address in getaddresses([mail["To"]]) if address]
        await asyncio.to_thread(self._send_blocking, mail, recipients)

    def _send_blocking(self, mail: EmailMessage, recipients: list[str]) -> None:
        smtp = self.config.smtp
        timeout = smtp.timeout.total_seconds()
        try:
            client: smtplib.SMTP
            if smtp.security == "tls":
                client = smtplib.SMTP_SSL(
                    smtp.host,
                    smtp.port,
                    local_hostname=self._local_hostname,
                    timeout=timeout,
                    context=self._ssl_context,
                )
            else:
                client = smtplib.SMTP(
                    smtp.host, smtp.port, local_hostname=self._local_hostname, timeout=timeout
                )
            with client:
                if smtp.security == "starttls":
                    client.starttls(context=self._ssl_context)
                if smtp.username:
                    password = smtp.password.get_secret_value() if smtp.password else ""
                    client.login(smtp.username, password)
                refused = client.send_message(mail, self._sender, recipients)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _refused_error(exc.recipients) from None
        except smtplib.SMTPNotSupportedError as exc:
            # e.g. no STARTTLS or no AUTH offered: the configuration has to change.
            raise DeliveryError(
                f"SMTP server does not support it: {exc}", retryable=False
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise _response_error(exc.smtp_code, exc.smtp_error) from None
        except (smtplib.SMTPException, OSError) as exc:
            # Refused connections, timeouts, dropped connections and TLS failures may all
            # pass on a later attempt (or once an operator fixes the server).
            raise DeliveryError(f"SMTP {type(exc).__name__}: {exc}", retryable=True) from None
        if refused:
            _partially_refused(refused)


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:200]


def _response_error(code: int, reply: bytes | str) -> DeliveryError:
    # 4xx is "try again later" in SMTP; 5xx is a permanent no (bad recipient, policy, auth).
    retryable = not 500 <= code < 600
    return DeliveryError(f"SMTP {code}: {_reply_text(reply)}", retryable=retryable)


def _refused_error(refused: dict[str, tuple[int, bytes]]) -> DeliveryError:
    retryable = any(not 500 <= code < 600 for code, _ in refused.values())
    return DeliveryError(f"SMTP refused every recipient: {_summary(refused)}", retryable=retryable)


def _partially_refused(refused: dict[str, tuple[int, bytes]]) -> None:
    # Some recipients have the mail already.  A temporary refusal (greylisting) is worth
    # a retry, even though the others get it twice (same Message-ID); a permanent one
    # for some addresses is not, and is logged rather than failing the whole delivery.
    if any(not 500 <= code < 600 for code, _ in refused.values()):
        raise DeliveryError(f"SMTP refused some recipients: {_summary(refused)}", retryable=True)
    log.warning("notify.email.partially_refused", refused=_summary(refused))


def _summary(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address}: {code} {_reply_text(reply)}" for address, (code, reply) in refused.items()
    )
