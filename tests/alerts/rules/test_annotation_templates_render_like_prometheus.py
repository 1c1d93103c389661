"""Annotation templates: Prometheus's syntax, its humanize functions, Go's number printing."""

from __future__ import annotations

import pytest

from opsbook.alerts.rules.templates import Template, go_float


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (0.05, "0.05"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5, "-2.5"),
        (float("inf"), "+Inf"),
    ],
)
def test_values_print_as_go_prints_a_float64(value: float, text: str) -> None:
    assert go_float(value) == text


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("{{ $value }}", "0.0731"),
        ("{{ .Value }}", "0.0731"),
        ("{{ $value | humanizePercentage }}", "7.31%"),
        ('{{ printf "%.1f" $value }}', "0.1"),
        ('{{ $value | printf "%.3f" }}', "0.073"),
        ("{{ $labels.job }} on {{ .Labels.instance }}", "api on 10.0.0.5:9100"),
        ('{{ index $labels "job" }}', "api"),
        ("{{ $labels.missing }}", ""),
        ("{{ $labels.job | toUpper }}", "API"),
        ("a  {{- $labels.job -}}  b", "aapib"),
    ],
)
def test_templates_render_the_value_and_labels(template: str, text: str) -> None:
    labels = {"job": "api", "instance": "10.0.0.5:9100"}
    assert Template.parse(template).render(value=0.0731, labels=labels) == text


@pytest.mark.parametrize(
    ("function", "value", "text"),
    [
        ("humanize", 1234567.0, "1.235M"),
        ("humanize", 0.0012, "1.2m"),
        ("humanize", 12.0, "12"),
        ("humanizeDuration", 90061.0, "1d 1h 1m 1s"),
        ("humanizeDuration", 3.2, "3.2s"),
        ("humanizeDuration", 0.25, "250ms"),
        ("humanizeDuration", 125.0, "2m 5s"),
    ],
)
def test_humanize_functions(function: str, value: float, text: str) -> None:
    assert Template.parse(f"{{{{ $value | {function} }}}}").render(value=value, labels={}) == text


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ $vlue }}", "unknown '$vlue'"),
        ("{{ $value | humanise }}", "unknown function 'humanise'"),
        ("{{ $value", "a {{ without its }}"),
        ("{{ }}", "an empty {{ }}"),
    ],
)
def test_template_mistakes_are_caught_at_parse(template: str, message: str) -> None:
    with pytest.raises(ValueError, match=r".") as raised:
        Template.parse(template)
    assert message in str(raised.value)
