"""The Prometheus text format 0.0.4, with the documentation's own example."""

# ruff: noqa: E501  (the documented example is kept verbatim)

from __future__ import annotations

import math

import pytest

from opsbook.metrics.exposition import ExpositionError, parse_exposition

# The example of "Text format example" in the Prometheus exposition formats documentation.
DOCUMENTED = r"""# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# A histogram, which has a pretty complex representation in the text format:
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="0.2"} 100392
http_request_duration_seconds_bucket{le="0.5"} 129389
http_request_duration_seconds_bucket{le="1"} 133988
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# Finally a summary, which has a complex representation, too:
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.05"} 3272
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds{quantile="0.9"} 9001
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
"""


def test_the_documented_example_parses() -> None:
    exposition = parse_exposition(DOCUMENTED)
    assert exposition.types == {
        "http_requests_total": "counter",
        "http_request_duration_seconds": "histogram",
        "rpc_duration_seconds": "summary",
    }
    assert exposition.help["http_requests_total"] == "The total number of HTTP requests."
    assert len(exposition.samples) == 20
    first, second, msdos, minimal, weird = exposition.samples[:5]
    assert (first.name, first.labels, first.value, first.timestamp_ms) == (
        "http_requests_total",
        {"method": "post", "code": "200"},
        1027.0,
        1395066363000,
    )
    assert second.value == 3.0, "several spaces separate tokens"
    assert msdos.labels == {"path": "C:\\DIR\\FILE.TXT", "error": 'Cannot find file:\n"FILE.TXT"'}
    assert msdos.value == 1.458255915e9
    assert (minimal.labels, minimal.value, minimal.timestamp_ms) == ({}, 12.47, None)
    assert math.isinf(weird.value)
    assert weird.timestamp_ms == -3982045
    buckets = [s for s in exposition.samples if s.name == "http_request_duration_seconds_bucket"]
    assert [s.labels["le"] for s in buckets] == ["0.05", "0.1", "0.2", "0.5", "1", "+Inf"]
    quantiles = [s for s in exposition.samples if s.name == "rpc_duration_seconds"]
    assert [s.labels["quantile"] for s in quantiles] == ["0.01", "0.05", "0.5", "0.9", "0.99"]
    assert exposition.samples[-2].value == 1.7560473e07


def test_trailing_commas_nan_and_tabs_are_allowed() -> None:
    exposition = parse_exposition('a{x="1",} NaN\nb\t-Inf\n  c{} 2  \n')
    assert exposition.samples[0].labels == {"x": "1"}
    assert math.isnan(exposition.samples[0].value)
    assert exposition.samples[1].value == -math.inf
    assert exposition.samples[2].value == 2.0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("up", "line 1: expected a value"),
        ("up one", "line 1: 'one' is not a number"),
        ('up{job="a} 1', "line 1: unterminated label value"),
        ("up{job=a} 1", 'line 1: expected a label like name="value"'),
        ('up{job="a\\x"} 1', "line 1: invalid escape \\x"),
        ('up{a="1",a="2"} 1', "label 'a' appears twice"),
        ("ok 1\n# TYPE up wibble\n", "line 2: unknown metric type 'wibble'"),
        ("up 1 12.5", "timestamp '12.5' is not whole milliseconds"),
        ("9up 1", "expected a metric name"),
        ("up 1 2 3", "expected a value and an optional timestamp"),
    ],
)
def test_malformed_bodies_say_which_line(body: str, message: str) -> None:
    with pytest.raises(ExpositionError) as raised:
        parse_exposition(body)
    assert message in str(raised.value)
