"""Atom 1.0 (RFC 4287) and RSS 2.0 feeds of the published incidents, newest first."""

from __future__ import annotations

from email.utils import format_datetime
from html import escape
from xml.etree import ElementTree as ET

from opsbook.status.page import PUBLIC_UPDATE_LABELS
from opsbook.status.state import IncidentView, PageState
from opsbook.status.statuspage import stamp

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_ITEMS = 50


def _content(incident: IncidentView) -> str:
    """The updates as a small HTML fragment (escaped once more by the XML writer)."""
    return "".join(
        f"<p><small>{u.created_at.strftime('%b %d, %H:%M UTC')}</small><br>"
        f"<strong>{PUBLIC_UPDATE_LABELS[u.status]}</strong> - {escape(u.body)}</p>"
        for u in incident.updates
    )


def _link(state: PageState, incident: IncidentView) -> str:
    return f"{state.url}/incidents/{incident.code}"


def atom(state: PageState) -> str:
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    feed = ET.Element(f"{{{ATOM_NS}}}feed", {"xml:lang": "en"})
    sub(feed, "id", f"{state.url}/feed.atom")
    sub(feed, "title", f"{state.name} status")
    sub(feed, "link", rel="alternate", type="text/html", href=state.url)
    sub(feed, "link", rel="self", type="application/atom+xml", href=f"{state.url}/feed.atom")
    sub(feed, "updated", stamp(state.updated_at))
    author = sub(feed, "author")
    sub(author, "name", state.name)
    for incident in state.incidents[:FEED_ITEMS]:
        entry = sub(feed, "entry")
        sub(entry, "id", _link(state, incident))
        sub(entry, "title", incident.name)
        sub(entry, "published", stamp(incident.published_at))
        sub(entry, "updated", stamp(incident.updated_at))
        sub(entry, "link", rel="alternate", type="text/html", href=_link(state, incident))
        sub(entry, "content", _content(incident), type="html")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode")


def rss(state: PageState) -> str:
    ET.register_namespace("atom", ATOM_NS)
    root = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(root, "channel")

    def sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
        node = ET.SubElement(parent, tag)
        node.text = text
        return node

    sub(channel, "title", f"{state.name} status")
    sub(channel, "link", state.url)
    sub(channel, "description", f"Incidents and updates of {state.name}")
    sub(channel, "language", "en")
    sub(channel, "lastBuildDate", format_datetime(state.updated_at, usegmt=True))
    ET.SubElement(
        channel,
        f"{{{ATOM_NS}}}link",
        {"href": f"{state.url}/feed.rss", "rel": "self", "type": "application/rss+xml"},
    )
    for incident in state.incidents[:FEED_ITEMS]:
        item = ET.SubElement(channel, "item")
        sub(item, "title", incident.name)
        sub(item, "link", _link(state, incident))
        guid = sub(item, "guid", _link(state, incident))
        guid.set("isPermaLink", "true")
        sub(item, "pubDate", format_datetime(incident.published_at, usegmt=True))
        sub(item, "description", _content(incident))
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
