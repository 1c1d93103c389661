"""Feeds parse as Atom and RSS, badges and bars are titled SVG, the page needs no script."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser
from xml.etree import ElementTree as ET

import feedparser
import pytest
from fastapi.testclient import TestClient
from status_support import record

from opsbook.core.clock import FakeClock
from opsbook.runtime import Runtime
from opsbook.status import service
from opsbook.status.bars import contrast_text

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def history(runtime: Runtime, clock: FakeClock) -> None:
    start = clock.now() - timedelta(days=2)
    record(runtime, "api-health", ok=False, at=start)
    record(runtime, "api-health", ok=True, at=start + timedelta(minutes=10))
    with runtime.db.session() as session, session.begin():
        for n in range(12):
            public = service.open_public_incident(
                session,
                name=f"Incident {n} <&>",
                status="investigating",
                body=f"Body {n} & co",
                component_statuses={"api": "partial_outage"},
                by="alice",
                now=start + timedelta(minutes=n),
            )
            service.post_update(
                session,
                code=public.code,
                status="resolved",
                body="Fixed.",
                by="alice",
                now=start + timedelta(minutes=n + 30),
            )


def test_atom_feed_parses_with_a_real_feed_parser(client: TestClient, history: None) -> None:
    response = client.get("/status/feed.atom")
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "PawfectMatch status"
    assert len(feed.entries) == 12
    assert feed.entries[0].title == "Incident 11 <&>"
    assert feed.entries[0].link.startswith("https://ops.pawfectmatch.test/status/incidents/")
    assert "Body 11 &amp; co" in feed.entries[0].content[0].value


def test_rss_feed_parses_with_a_real_feed_parser(client: TestClient, history: None) -> None:
    response = client.get("/status/feed.rss")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "rss20"
    assert [e.title for e in feed.entries][:2] == ["Incident 11 <&>", "Incident 10 <&>"]
    assert client.get("/history.rss").content == response.content


def test_badges_are_svg_with_a_title(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    record(runtime, "api-health", ok=False, at=clock.now())
    for path, text in (
        ("/status/badge/api.svg", "API: major outage"),
        ("/status/badge.svg", "PawfectMatch: major service outage"),
    ):
        response = client.get(path)
        assert response.headers["content-type"] == "image/svg+xml; charset=utf-8"
        root = ET.fromstring(response.content)  # noqa: S314 - our own output
        assert root.get("role") == "img"
        assert root.get("aria-label") == text
        assert root.find(f"{SVG}title").text == text  # type: ignore[union-attr]
    assert client.get("/status/badge/nope.svg").status_code == 404


class _Outline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.svg_titles = 0
        self.scripts = 0
        self.images_without_alt = 0
        self._in_svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.scripts += tag == "script"
        self.images_without_alt += tag == "img" and not dict(attrs).get("alt")
        if tag == "svg" and dict(attrs).get("role") == "img":
            self._in_svg += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self._in_svg:
            self._in_svg -= 1

    def handle_data(self, data: str) -> None:
        if self._in_svg and self.tags and self.tags[-1] == "title" and data.strip():
            self.svg_titles += 1


def test_the_page_needs_no_login_no_script_and_has_landmarks(
    client: TestClient, history: None
) -> None:
    response = client.get("/status")
    assert response.status_code == 200
    outline = _Outline()
    outline.feed(response.text)
    assert outline.scripts == 0
    assert {"header", "main", "footer", "h1", "h2", "nav"} - set(outline.tags) == {"nav"}
    assert outline.images_without_alt == 0
    assert outline.svg_titles >= 3 * 2  # every bar and every day span is titled
    assert 'lang="en"' in response.text
    assert "Older incidents" in response.text  # 12 past incidents, 10 a page


def test_history_is_paginated(client: TestClient, history: None) -> None:
    first = client.get("/status/history").text
    second = client.get("/status/history?page=2").text
    assert "Incident 11 &lt;&amp;&gt;" in first
    assert "Incident 1 &lt;" not in first
    assert "Incident 1 &lt;&amp;&gt;" in second
    assert "Page 2 of 2" in second
    assert 'rel="prev"' in second
    assert client.get("/status/history?page=3").text == first  # unknown page: the first


def test_a_day_with_downtime_has_its_own_tooltip(
    client: TestClient, history: None, clock: FakeClock
) -> None:
    page = client.get("/status").text
    day = (clock.now() - timedelta(days=2)).strftime("%b %d")
    # Two results that day (one failed minute of two observed) and twelve incidents.
    assert (
        f"<title>{day}: 50.00% uptime, 1 min down, 12 incidents: Incident 11 &lt;&amp;&gt;;" in page
    )
    # The days around it share one titled span each.
    assert "no data</title></rect>" in page


def test_etags_answer_304(client: TestClient) -> None:
    first = client.get("/api/v2/summary.json")
    again = client.get("/api/v2/summary.json", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("background", ["#14213d", "#ffffff", "#1a7f37", "#9a6700", "#f5a623"])
def test_text_on_every_colour_meets_wcag_aa_for_large_text(background: str) -> None:
    def luminance(colour: str) -> float:
        def channel(value: int) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)

    text = contrast_text(background)
    light, dark = sorted((luminance(text), luminance(background)), reverse=True)
    assert (light + 0.05) / (dark + 0.05) >= 3.0


def test_name_logo_and_colours_come_from_the_config(runtime: Runtime, clock: FakeClock) -> None:
    from opsbook.status.snapshot import SnapshotKeeper

    page = runtime.config.status_page.model_copy(
        update={
            "name": "Pawfect Status",
            "logo_url": "https://pawfectmatch.test/logo.png",
            "logo_alt": "PawfectMatch paw logo",
            "colours": runtime.config.status_page.colours.model_copy(update={"header": "#ffd33d"}),
        }
    )
    config = runtime.config.model_copy(update={"status_page": page})
    keeper = SnapshotKeeper(db=runtime.db, clock=clock, config=lambda: config, owner="brand")
    snapshot = keeper.refresh(force=True)
    assert snapshot is not None
    html = snapshot.documents["/status"].body.decode()
    assert "<title>Pawfect Status status</title>" in html
    assert '<img src="https://pawfectmatch.test/logo.png" alt="PawfectMatch paw logo">' in html
    # A light header gets dark text, for contrast.
    assert "--header:#ffd33d;--header-text:#000000;" in html
