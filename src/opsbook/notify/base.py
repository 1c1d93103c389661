"""The one interface every channel kind implements, and the renderings kinds share.

A transport turns one :class:`OutgoingNotification` into one network call.  It either
returns (delivered) or raises :class:`DeliveryError` saying whether another attempt
could help; the dispatcher owns retries, backoff and bookkeeping, so a transport holds
no state about attempts and never touches the database.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, ClassVar, Protocol

import jinja2

from opsbook.notify.message import Message


class ChannelConfig(Protocol):
    """What every channel kind's config model has (``opsbook.notify.<kind>.config``)."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True, slots=True)
class OutgoingNotification:
    """One attempt at delivering one notification, as a transport sees it.

    ``sent_at`` comes from the dispatcher's clock; transports use it for every
    timestamp they put on the wire (signatures, ``Date``), never the system time.
    """

    notification_id: int
    channel: str
    message: Message
    idempotency_key: str
    target: str | None
    attempt: int
    sent_at: datetime


class DeliveryError(Exception):
    """A failed delivery; ``retryable`` says whether another attempt could succeed.

    ``retry_after`` is the receiver's own request (HTTP ``Retry-After``); without it
    the dispatcher backs off exponentially.  The message is stored and logged, so it
    must never contain a secret.
    """

    def __init__(self, message: str, retryable: bool, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class Transport(ABC):
    """A channel kind: ``send`` one notification, raise :class:`DeliveryError` on failure.

    Subclasses set ``kind`` (the name in opsbook.yaml) and ``config_model`` and take
    their config model as the first constructor argument::

        class PagerTransport(Transport):
            kind = "pager"
            config_model = PagerChannelConfig

            def __init__(self, config: PagerChannelConfig) -> None:
                self.config = config

            async def send(self, delivery: OutgoingNotification) -> None:
                ...
    """

    kind: ClassVar[str]
    config_model: ClassVar[type[Any]]

    @abstractmethod
    async def send(self, delivery: OutgoingNotification) -> None: ...

    async def aclose(self) -> None:  # noqa: B027 - an optional hook, not a requirement
        """Release connections and clients; the owner calls it once, at shutdown."""

    @classmethod  # noqa: B027 - an optional hook: most kinds accept any target
    def check_target(cls, target: str) -> None:
        """Raise ``ValueError`` when ``target`` means nothing to this kind.

        Called when a notification is enqueued, so a bad target is an error in the
        caller's transaction rather than a dead notification later.
        """


# Rendering -----------------------------------------------------------------------

_SAFE_URL = re.compile(r"(?i)(https?|mailto):")

_TEXT_TEMPLATE = """\
{{ subject }}
{% if message.text %}
{{ message.text }}
{% endif %}
{%- if message.fields %}
{% for key, value in message.fields.items() %}{{ key }}: {{ value }}
{% endfor %}
{%- endif %}
{%- if message.links or message.url %}
{% for link in message.links %}{{ link.label }}: {{ link.url }}
{% endfor %}
{%- if message.url %}Open in Opsbook: {{ message.url }}
{% endif %}
{%- endif %}"""

_HTML_TEMPLATE = """\
<!doctype html>
<html><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: sans-serif; line-height: 1.4">
<h2>{% if tag %}<span>{{ tag }}</span> {% endif %}{{ message.title }}</h2>
{% for paragraph in paragraphs %}\
<p style="white-space: pre-wrap">{{ paragraph }}</p>
{% endfor %}\
{% if message.fields %}<table>
{% for key, value in message.fields.items() %}\
<tr><th align="left">{{ key }}</th><td>{{ value }}</td></tr>
{% endfor %}</table>
{% endif %}\
{% if links %}<ul>
{% for label, url in links %}\
<li>{% if url %}<a href="{{ url }}">{{ label }}</a>{% else %}{{ label }}{% endif %}</li>
{% endfor %}</ul>
{% endif %}\
</body></html>
"""


@cache
def _templates() -> tuple[jinja2.Template, jinja2.Template]:
    text = jinja2.Environment(
        autoescape=False,  # noqa: S701 - plain text for terminals and text/plain mail
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    ).from_string(_TEXT_TEMPLATE)
    html = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
    ).from_string(_HTML_TEMPLATE)
    return text, html


def severity_tag(message: Message) -> str:
    """``[P1]`` to put before the title, or nothing when the title already starts with it."""
    if not message.severity:
        return ""
    tag = f"[{message.severity}]"
    return "" if message.title.startswith(tag) else tag


def render_subject(message: Message) -> str:
    """One line: ``[P1] checkout is failing``; line breaks would split a mail header."""
    tag = severity_tag(message)
    subject = f"{tag} {message.title}" if tag else message.title
    return " ".join(subject.split())


def render_text(message: Message) -> str:
    """The message as plain text, for terminals and ``text/plain`` mail parts."""
    return _templates()[0].render(subject=render_subject(message), message=message)


def render_html(message: Message) -> str:
    """The message as a small HTML document; every value is escaped."""
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", message.text) if p.strip()]
    links = [(link.label, _safe_url(link.url)) for link in message.links]
    if message.url:
        links.append(("Open in Opsbook", _safe_url(message.url)))
    return _templates()[1].render(
        subject=render_subject(message),
        tag=severity_tag(message),
        message=message,
        paragraphs=paragraphs,
        links=links,
    )


def _safe_url(url: str) -> str | None:
    # Escaping stops markup injection but not a javascript: URL in an href.
    return url if _SAFE_URL.match(url.strip()) else None
