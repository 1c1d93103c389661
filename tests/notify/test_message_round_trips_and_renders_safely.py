"""A message survives the outbox unchanged and renders without letting markup through."""

from __future__ import annotations

import pytest

from opsbook.notify import Link, Message
from opsbook.notify.base import render_html, render_subject, render_text

MESSAGE = Message(
    title="<script>alert(1)</script> checkout\nis failing",
    text="Error rate above 5%.\n\nSecond <b>paragraph</b>.",
    severity="P1",
    url="https://opsbook.example.com/incidents/7",
    fields={"service": "check<out>"},
    links=(Link("Runbook", "https://wiki.example.com"), Link("trap", "javascript:alert(1)")),
    event="incident.triggered",
)


def test_a_message_round_trips_through_its_stored_dict() -> None:
    assert Message.from_dict(MESSAGE.to_dict()) == MESSAGE
    assert Message.from_dict({"title": "t"}) == Message(title="t")


def test_a_newer_writers_unknown_keys_are_ignored() -> None:
    assert Message.from_dict({"title": "t", "priority_v2": 1}) == Message(title="t")


@pytest.mark.parametrize(
    "stored",
    [{}, {"title": ""}, {"title": "t", "fields": ["a"]}, {"title": "t", "links": [{"url": "x"}]}],
)
def test_a_malformed_message_is_a_value_error(stored: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="message"):
        Message.from_dict(stored)


def test_the_subject_is_one_line() -> None:
    assert render_subject(MESSAGE) == "[P1] <script>alert(1)</script> checkout is failing"


def test_a_title_that_already_names_its_severity_is_not_tagged_twice() -> None:
    tagged = Message(title="[P1] #4 Checkout is failing", severity="P1")
    assert render_subject(tagged) == "[P1] #4 Checkout is failing"
    assert render_text(tagged).splitlines()[0] == "[P1] #4 Checkout is failing"
    assert "<h2>[P1] #4 Checkout is failing</h2>" in render_html(tagged)


def test_html_escapes_every_value_and_drops_unsafe_link_targets() -> None:
    html = render_html(MESSAGE)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "Second &lt;b&gt;paragraph&lt;/b&gt;." in html
    assert "check&lt;out&gt;" in html
    assert "javascript:" not in html
    assert "<li>trap</li>" in html
    assert '<a href="https://wiki.example.com">Runbook</a>' in html


def test_text_keeps_the_body_fields_and_links_readable() -> None:
    assert render_text(MESSAGE).splitlines() == [
        "[P1] <script>alert(1)</script> checkout is failing",
        "",
        "Error rate above 5%.",
        "",
        "Second <b>paragraph</b>.",
        "",
        "service: check<out>",
        "",
        "Runbook: https://wiki.example.com",
        "trap: javascript:alert(1)",
        "Open in Opsbook: https://opsbook.example.com/incidents/7",
    ]
