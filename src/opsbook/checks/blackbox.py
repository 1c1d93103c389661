"""A blackbox_exporter-compatible ``GET /probe?target=...&module=...``.

Prometheus jobs written for blackbox_exporter scrape Opsbook unchanged: the default
module names work without configuration, and the answer is Prometheus text with the
same metric names (``probe_success``, ``probe_duration_seconds``,
``probe_http_status_code``, ``probe_http_duration_seconds{phase=...}``,
``probe_ssl_earliest_cert_expiry`` ...).

Any configured check can be probed too: ``module=check:NAME`` runs that check as
configured (the ``target`` parameter is then only echoed).

The endpoint needs a viewer token unless ``settings.probe.public`` is true: whoever
can call it can make Opsbook open connections, so open it only on a trusted network.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from opsbook.checks.config import CheckConfig
from opsbook.checks.result import CheckResult
from opsbook.checks.runner import CompiledCheck, compile_check, is_probe_check
from opsbook.config import OpsbookConfig

DEFAULT_TIMEOUT_S = 5.0
# blackbox_exporter answers with a timeout half a second shy of Prometheus' scrape timeout.
SCRAPE_TIMEOUT_MARGIN_S = 0.5
_CACHE_SIZE = 512


class ProbeRequestError(ValueError):
    """A bad target or module: answered 400 with this message, as blackbox_exporter does."""


def _http(method: str) -> Callable[[str], dict[str, Any]]:
    def spec(target: str) -> dict[str, Any]:
        url = target if "://" in target else f"http://{target}"
        if urlsplit(url).scheme not in ("http", "https"):
            raise ProbeRequestError(f"target {target!r} is not an http(s) URL")
        return {"http": {"url": url, "method": method}}

    return spec


def _host_port(target: str) -> tuple[str, int]:
    host, sep, port = target.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ProbeRequestError(f"target {target!r} must be host:port")
    return host.strip("[]"), int(port)


def _tcp(target: str) -> dict[str, Any]:
    host, port = _host_port(target)
    return {"tcp": {"host": host, "port": port}}


def _tls(target: str) -> dict[str, Any]:
    host, port = _host_port(target)
    return {"tls": {"host": host, "port": port}}


def _ssh_banner(target: str) -> dict[str, Any]:
    host, port = _host_port(target)
    return {"tcp": {"host": host, "port": port, "expect": "SSH-2.0-"}}


# blackbox_exporter's stock module names, and what they mean here.
MODULES: Mapping[str, Callable[[str], dict[str, Any]]] = {
    "http_2xx": _http("GET"),
    "http_post_2xx": _http("POST"),
    "tcp_connect": _tcp,
    "tls_connect": _tls,
    "ssh_banner": _ssh_banner,
}


class ProbeHandler:
    """Builds (and caches) a compiled check per (module, target, timeout), runs it, formats it."""

    def __init__(self, config: Callable[[], OpsbookConfig]) -> None:
        self._current_config = config
        self._config: OpsbookConfig | None = None
        self._cache: OrderedDict[tuple[str, str, float], CompiledCheck] = OrderedDict()

    def compiled(self, *, module: str, target: str, timeout: float) -> CompiledCheck:
        config = self._current_config()
        if config is not self._config:  # reloaded: `check:NAME` modules may have changed
            self._cache.clear()
            self._config = config
        key = (module, target, timeout)
        check = self._cache.get(key)
        if check is not None:
            self._cache.move_to_end(key)
            return check
        check = compile_check(
            self._check_config(config, module=module, target=target, timeout=timeout)
        )
        self._cache[key] = check
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return check

    @staticmethod
    def _check_config(
        config: OpsbookConfig, *, module: str, target: str, timeout: float
    ) -> CheckConfig:
        if module.startswith("check:"):
            configured = config.find_check(module.removeprefix("check:"))
            if configured is None:
                raise ProbeRequestError(f"unknown module {module!r}: no such check")
            if not is_probe_check(configured):
                raise ProbeRequestError(f"check {configured.name!r} cannot be probed on demand")
            return configured
        spec = MODULES.get(module)
        if spec is None:
            known = ", ".join(sorted(MODULES))
            raise ProbeRequestError(f"unknown module {module!r} (known: {known}, check:NAME)")
        if not target:
            raise ProbeRequestError("target parameter is missing")
        milliseconds = max(1, int(timeout * 1000))
        kind_spec = spec(target)
        try:
            return CheckConfig.model_validate(
                {
                    "name": "probe",
                    "every": f"{milliseconds + 1000}ms",
                    "timeout": f"{milliseconds}ms",
                    **kind_spec,
                }
            )
        except ValueError as exc:
            raise ProbeRequestError(f"invalid target {target!r}: {_first_error(exc)}") from None

    async def probe(self, *, module: str, target: str, timeout: float) -> str:
        check = self.compiled(module=module, target=target, timeout=timeout)
        result = await check.run(started_at=datetime.now(UTC))
        return render(result)


def scrape_timeout(header: str | None, query: str | None) -> float:
    """The probe's timeout: ``?timeout=``, else Prometheus' scrape timeout less a margin."""
    for raw, margin in ((query, 0.0), (header, SCRAPE_TIMEOUT_MARGIN_S)):
        if raw:
            try:
                seconds = float(raw.removesuffix("s")) - margin
            except ValueError:
                raise ProbeRequestError(f"invalid timeout {raw!r}") from None
            if not math.isfinite(seconds) or seconds <= 0:
                raise ProbeRequestError(f"invalid timeout {raw!r}")
            return min(seconds, 120.0)
    return DEFAULT_TIMEOUT_S


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        found = errors()
        if found:
            return str(found[0].get("msg", exc))
    return str(exc)


def render(result: CheckResult) -> str:
    """The Prometheus text blackbox_exporter would answer for this result."""
    timings = result.timings
    values = result.observed
    out: list[str] = []

    def gauge(name: str, help_text: str, value: float, labels: str = "") -> None:
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} gauge\n{name}{labels} {_num(value)}")

    gauge(
        "probe_dns_lookup_time_seconds",
        "Returns the time taken for probe dns lookup in seconds",
        timings.get("dns", 0.0),
    )
    gauge(
        "probe_duration_seconds",
        "Returns how long the probe took to complete in seconds",
        timings.get("total", 0.0),
    )
    if result.kind == "http":
        status = values.get("status", 0)
        phases = _http_phases(timings)
        out.append(
            "# HELP probe_http_duration_seconds Duration of http request by phase, summed over "
            "all redirects\n# TYPE probe_http_duration_seconds gauge\n"
            + "\n".join(
                f'probe_http_duration_seconds{{phase="{phase}"}} {_num(seconds)}'
                for phase, seconds in phases.items()
            )
        )
        gauge("probe_http_redirects", "The number of redirects", values.get("redirects", 0))
        gauge(
            "probe_http_ssl",
            "Indicates if SSL was used for the final redirect",
            1 if "tls" in values else 0,
        )
        gauge("probe_http_status_code", "Response HTTP status code", status)
        body = values.get("body_text")
        gauge(
            "probe_http_content_length",
            "Length of http content response",
            int(values.get("headers", {}).get("content-length", -1) or -1),
        )
        gauge(
            "probe_http_uncompressed_body_length",
            "Length of uncompressed response body",
            len(body.encode()) if isinstance(body, str) else 0,
        )
        gauge(
            "probe_http_version",
            "Returns the version of HTTP of the probe response",
            _version(values),
        )
    tls = values.get("tls")
    if isinstance(tls, Mapping) and "chain_expires_at" in tls:
        gauge(
            "probe_ssl_earliest_cert_expiry",
            "Returns last SSL chain expiry in unixtime",
            tls["chain_expires_at"],
        )
    gauge("probe_success", "Displays whether or not the probe was a success", 1 if result.ok else 0)
    return "\n".join(out) + "\n"


def _http_phases(timings: Mapping[str, float]) -> dict[str, float]:
    # blackbox's phases: resolve, connect, tls, processing (to the first byte), transfer.
    ttfb = timings.get("ttfb", 0.0)
    before_body = sum(timings.get(p, 0.0) for p in ("dns", "connect", "tls")) + ttfb
    return {
        "resolve": timings.get("dns", 0.0),
        "connect": timings.get("connect", 0.0),
        "tls": timings.get("tls", 0.0),
        "processing": ttfb,
        "transfer": max(0.0, timings.get("total", 0.0) - before_body),
    }


def _version(values: Mapping[str, Any]) -> float:
    version = str(values.get("http_version", "")).removeprefix("HTTP/")
    try:
        return float(version)
    except ValueError:
        return 0.0


def _num(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)
