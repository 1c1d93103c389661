"""Fingerprints, label-set strings and times exactly as Alertmanager writes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsbook.alerts.labels import (
    NATURAL_KEY_MAX,
    fingerprint,
    label_key,
    label_set_string,
    labels_json,
    parse_time,
    rfc3339,
    rfc3339_millis,
    sort_key,
)


def test_fingerprint_is_prometheus_commons_fnv1a_of_the_sorted_pairs() -> None:
    # The test vectors of prometheus/common model.TestMetricToFingerprint.
    assert fingerprint({}) == f"{14695981039346656037:016x}"
    assert fingerprint({"name": "garland, briggs", "fear": "love is not enough"}) == (
        f"{5799056148416392346:016x}"
    )


def test_fingerprint_does_not_depend_on_label_order_but_on_every_pair() -> None:
    a = fingerprint({"alertname": "Down", "service": "api"})
    assert a == fingerprint({"service": "api", "alertname": "Down"})
    assert a != fingerprint({"alertname": "Down", "service": "web"})
    assert len(a) == 16
    assert a == a.lower()


def test_label_key_is_equal_exactly_for_equal_label_sets() -> None:
    assert label_key({"a": "1", "b": "2"}) == label_key({"b": "2", "a": "1"})
    # The separator keeps "a=1b" apart from "a1=b".
    assert label_key({"a": "1b"}) != label_key({"a1": "b"})


def test_a_long_label_sets_key_is_cut_and_signed_and_still_tells_sets_apart() -> None:
    first = {"alertname": "Long", "detail": "x" * 300 + "1"}
    second = {"alertname": "Long", "detail": "x" * 300 + "2"}
    short = {"alertname": "Short"}
    assert label_key(short) == '{"alertname":"Short"}'  # the text itself, in index order
    assert len(label_key(first)) == len(label_key(second)) == NATURAL_KEY_MAX
    assert label_key(first) != label_key(second)  # same first 167 characters
    assert label_key(first) == label_key(dict(reversed(first.items())))


def test_label_set_string_is_alertmanagers() -> None:
    assert label_set_string({"service": "api", "alertname": 'Disk "full"'}) == (
        '{alertname="Disk \\"full\\"", service="api"}'
    )
    assert label_set_string({}) == "{}"


def test_sort_key_orders_by_job_then_instance_then_labels() -> None:
    ordered = sorted(
        [
            {"alertname": "A", "instance": "b", "job": "x"},
            {"alertname": "A"},
            {"alertname": "A", "instance": "a", "job": "x"},
            {"alertname": "A", "job": "w"},
        ],
        key=sort_key,
    )
    assert [(a.get("job"), a.get("instance")) for a in ordered] == [
        ("w", None),
        ("x", "a"),
        ("x", "b"),
        (None, None),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T09:00:00Z", datetime(2026, 11, 22, 9, tzinfo=UTC)),
        ("2026-11-22T09:00:00.123456789Z", datetime(2026, 11, 22, 9, 0, 0, 123456, tzinfo=UTC)),
        ("2015-07-17T08:42:58.315+0000", datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)),
        ("2021-10-12T09:51:03.157076+02:00", datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_times_parse_as_rfc3339_with_go_zero_time_unset(
    text: str | None, expected: datetime | None
) -> None:
    assert parse_time(text, "startsAt") == expected


@pytest.mark.parametrize("bad", ["yesterday", "2026-11-22T09:00:00", 1732262400])
def test_a_time_without_zone_or_not_a_string_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="startsAt"):
        parse_time(bad, "startsAt")


def test_times_are_written_like_go() -> None:
    moment = datetime(2026, 11, 22, 10, 0, 0, 120000, tzinfo=timezone(timedelta(hours=1)))
    assert rfc3339(moment) == "2026-11-22T09:00:00.12Z"
    assert rfc3339(moment.replace(microsecond=0)) == "2026-11-22T09:00:00Z"
    assert rfc3339(None) == "0001-01-01T00:00:00Z"
    assert rfc3339_millis(moment) == "2026-11-22T09:00:00.120Z"


@given(st.dictionaries(st.text(max_size=12), st.text(max_size=24), max_size=8))
def test_the_stored_label_text_and_its_dedup_key_never_depend_on_the_encoder(
    labels: dict[str, str],
) -> None:
    # Dedup keys are this text: a faster encoder must write it byte for byte.
    reference = json.dumps(labels, sort_keys=True, separators=(",", ":"))
    assert labels_json(labels) == reference
    assert label_key(labels) == label_key(labels, reference)
