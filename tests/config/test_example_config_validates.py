"""examples/opsbook.yaml is PawfectMatch's runbook (seeds/000) as configuration."""

from datetime import timedelta
from pathlib import Path

from opsbook.config import Target, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "opsbook.yaml"


def test_example_validates_without_any_environment() -> None:
    config = load_config(EXAMPLE, env={})
    assert config.service.name == "PawfectMatch"
    assert {c.name for c in config.channels} >= {"incidents", "stakeholders"}


def test_example_follows_the_runbooks_policy() -> None:
    policy = load_config(EXAMPLE, env={}).severities
    assert policy["P0"].escalate_after == timedelta(0)
    assert policy["P0"].escalate_to == (Target("person", "maya"), Target("person", "priya"))
    assert Target("channel", "stakeholders") in policy["P0"].notify
    # "On-call engineer acknowledges within 5 minutes", at every level that pages.
    assert [policy[s].ack_within for s in ("P0", "P1", "P2")] == [timedelta(minutes=5)] * 3
    assert policy["P1"].respond_within == timedelta(minutes=30)
    assert policy["P3"].escalate_after == timedelta(hours=48)


def test_example_reads_the_incidents_webhook_from_the_environment() -> None:
    url = "https://relay.example.com/hooks/abc"
    config = load_config(EXAMPLE, env={"INCIDENTS_WEBHOOK_URL": url})
    incidents = config.find_channel("incidents")
    assert incidents is not None
    assert incidents.kind == "webhook"
    assert incidents.url == url
