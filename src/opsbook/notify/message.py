"""What a notification says, independent of the channel that carries it.

A :class:`Message` is written to the outbox as ``message.to_dict()`` inside the
transaction of the change that caused it, and read back with :meth:`Message.from_dict`
by whichever worker delivers it, possibly a newer or older release of Opsbook.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One notification's content.

    >>> message = Message(
    ...     title="P1: checkout is failing",
    ...     text="Error rate above 5% for 5 minutes.",
    ...     severity="P1",
    ...     url="https://opsbook.example.com/incidents/42",
    ...     fields={"service": "checkout"},
    ...     links=(Link("Runbook", "https://wiki.example.com/checkout"),),
    ...     event="incident.triggered",
    ... )
    >>> Message.from_dict(message.to_dict()) == message
    True
    """

    title: str
    text: str = ""
    severity: str | None = None
    url: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    links: tuple[Link, ...] = ()
    event: str = "notification"
    # A one-click unsubscribe link (RFC 8058) for mail sent to a subscriber list.
    unsubscribe_url: str | None = None
    # Structured content for machine receivers, sent as it is by the kinds that forward
    # a document (the alertmanager-webhook kind posts it as its whole body).
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: what the outbox stores and what webhooks receive."""
        out = {
            "event": self.event,
            "title": self.title,
            "text": self.text,
            "severity": self.severity,
            "url": self.url,
            "fields": dict(self.fields),
            "links": [{"label": link.label, "url": link.url} for link in self.links],
            **({"unsubscribe_url": self.unsubscribe_url} if self.unsubscribe_url else {}),
        }
        if self.data:
            out["data"] = self.data
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        """Read a stored message back; raises ``ValueError`` when it is malformed.

        Unknown keys are ignored: during a rolling upgrade an older worker may deliver a
        row written by a newer release, and sending it without the new part beats not
        sending it at all.
        """
        title = data.get("title")
        if not isinstance(title, str) or not title:
            raise ValueError("message has no title")
        fields = data.get("fields") or {}
        if not isinstance(fields, Mapping):
            raise ValueError("message fields must be a mapping")
        extra = data.get("data") or {}
        if not isinstance(extra, Mapping):
            raise ValueError("message data must be a mapping")
        links = []
        for link in data.get("links") or ():
            if not isinstance(link, Mapping) or not {"label", "url"} <= link.keys():
                raise ValueError("each message link needs a label and a url")
            links.append(Link(str(link["label"]), str(link["url"])))
        return cls(
            title=title,
            text=str(data.get("text") or ""),
            severity=_optional_str(data.get("severity")),
            url=_optional_str(data.get("url")),
            fields={str(key): str(value) for key, value in fields.items()},
            links=tuple(links),
            event=str(data.get("event") or "notification"),
            unsubscribe_url=_optional_str(data.get("unsubscribe_url")),
            data=dict(extra),
        )


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)
