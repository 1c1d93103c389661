from __future__ import annotations

from datetime import UTC, datetime

import pytest
from incidents_support import open_one

from opsbook.config.schema import OpsbookConfig
from opsbook.core.clock import FakeClock
from opsbook.core.db import Database
from opsbook.incidents.naming import MAX_SLUG_LENGTH, slugify


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Checkout: 5xx errors > 5% (EU)", "checkout-5xx-errors-5-eu"),
        ("Zahlungsausfall bei Überweisungen", "zahlungsausfall-bei-uberweisungen"),
        ("   ", "incident"),
        ("🔥🔥", "incident"),
        ("Database connection pool exhausted on the primary replica set", None),
    ],
)
def test_slug_is_ascii_and_short(title: str, slug: str | None) -> None:
    result = slugify(title)
    assert len(result) <= MAX_SLUG_LENGTH
    assert result.isascii()
    assert not result.startswith("-")
    assert not result.endswith("-")
    if slug is not None:
        assert result == slug
    else:
        assert result == "database-connection-pool-exhausted-on"


@pytest.mark.parametrize(
    ("instant", "local_date"),
    [
        # 23:30 UTC the night before Berlin's spring-forward is already 00:30 CET next day.
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), "2026-03-29"),
        # After the change Berlin is UTC+2: 22:30 UTC is 00:30 CEST, the next day.
        (datetime(2026, 3, 29, 22, 30, tzinfo=UTC), "2026-03-30"),
        (datetime(2026, 3, 29, 21, 30, tzinfo=UTC), "2026-03-29"),
        # Autumn back: 22:30 UTC on 24 Oct is 00:30 CEST on the 25th.
        (datetime(2026, 10, 24, 22, 30, tzinfo=UTC), "2026-10-25"),
    ],
)
def test_channel_date_is_the_service_local_date(
    db: Database, config: OpsbookConfig, instant: datetime, local_date: str
) -> None:
    incident = open_one(db, FakeClock(instant), config, title="Checkout down")
    assert incident.channel_name == f"#incident-{local_date}-checkout-down"


def test_same_title_same_day_gets_numbered_suffixes(
    db: Database, clock: FakeClock, config: OpsbookConfig
) -> None:
    names = [open_one(db, clock, config, title="API latency").channel_name for _ in range(3)]
    assert names == [
        "#incident-2026-01-05-api-latency",
        "#incident-2026-01-05-api-latency-2",
        "#incident-2026-01-05-api-latency-3",
    ]


def test_numbers_are_sequential(db: Database, clock: FakeClock, config: OpsbookConfig) -> None:
    assert [open_one(db, clock, config, title=f"t{n}").number for n in range(3)] == [1, 2, 3]
