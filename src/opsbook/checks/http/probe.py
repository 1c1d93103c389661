"""The http probe: ``curl -w`` done right, on a fresh connection every run."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urljoin

from opsbook.checks.base import Probe, ProbeError, Stopwatch, no_answer_within
from opsbook.checks.conditions import quote
from opsbook.checks.http.config import HttpCheckConfig
from opsbook.checks.http.wire import Request, Response, build_request, read_response
from opsbook.checks.network import client_context, close, connect, start_tls
from opsbook.checks.result import Observation
from opsbook.checks.tls.certificates import describe_chain, peer_chain

MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
# The preset the runbooks call "security headers present", one verdict per header.
SECURITY_HEADERS = (
    'headers["strict-transport-security"] exists',
    'headers["content-security-policy"] exists',
    'headers["x-content-type-options"] == "nosniff"',
    'headers["x-frame-options"] exists',
    'headers["referrer-policy"] exists',
)
_STATUS_CONDITION_START = "status "


class HttpProbe(Probe):
    """Values: ``status``, ``headers`` (lowercased names), ``body`` (JSON when it parses,
    else text), ``body_text``, ``response_time`` (seconds), ``http_version``,
    ``redirects``, ``url`` and, over https, ``tls`` (as the tls kind reports it).

    Timings: ``dns``, ``connect``, ``tls``, ``ttfb`` (request sent to first byte), ``total``.
    """

    kind = "http"
    config_model = HttpCheckConfig

    def __init__(self, config: HttpCheckConfig) -> None:
        super().__init__(config)
        self.config: HttpCheckConfig = config
        self.request = self._request(config.url, config.method, config.body)

    def _request(self, url: str, method: str, body: str | None) -> Request:
        return build_request(url, method=method, headers=self.config.headers, body=body)

    def implicit_conditions(self) -> tuple[str, ...]:
        config = self.config
        statuses = config.expect_status
        conditions = [
            "status >= 200 and status <= 299"
            if statuses is None
            else f"status in [{', '.join(map(str, statuses))}]"
        ]
        if config.contains is not None:
            conditions.append(f"body_text contains {quote(config.contains)}")
        if config.regex is not None:
            conditions.append(f"body_text matches {quote(config.regex.pattern)}")
        if config.security_headers:
            conditions += SECURITY_HEADERS
        return tuple(conditions)

    def reason_code(self, condition: str) -> str:
        return "status" if condition.startswith(_STATUS_CONDITION_START) else "condition"

    async def observe(self, *, timeout: float) -> Observation:
        watch = Stopwatch()
        try:
            async with asyncio.timeout(timeout):
                return await self._follow(watch)
        except TimeoutError:
            message = no_answer_within(timeout, _stage(watch.timings, https=self.request.https))
            raise ProbeError("timeout", message, timings=watch.done()) from None
        except ProbeError as exc:
            if not exc.timings:
                exc.timings = watch.done()
            raise

    async def _follow(self, watch: Stopwatch) -> Observation:
        request = self.request
        redirects = 0
        while True:
            response, tls = await self._exchange(request, watch)
            location = response.headers.get("location")
            if (
                not self.config.follow_redirects
                or response.status not in _REDIRECTS
                or location is None
            ):
                break
            if redirects == MAX_REDIRECTS:
                raise ProbeError("protocol", f"more than {MAX_REDIRECTS} redirects")
            redirects += 1
            method, body = self.config.method, self.config.body
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None  # what browsers (and curl -L) do
            request = self._request(urljoin(request.url, location), method, body)
            if not request.host or not request.url.startswith(("http://", "https://")):
                raise ProbeError("protocol", f"cannot follow a redirect to {location!r}")
            watch.skip()
        timings = watch.done()
        values = _values(response, tls, redirects, request.url)
        values["response_time"] = timings["total"]
        return Observation(values=values, timings=timings)

    async def _exchange(self, request: Request, watch: Stopwatch) -> tuple[Response, Any]:
        reader, writer = await connect(request.host, request.port, watch)
        try:
            tls: dict[str, Any] | None = None
            if request.https:
                verify = self.config.tls_verify
                context = client_context(
                    verify=verify, check_hostname=True, ca_file=self.config.ca_file
                )
                ssl_object = await start_tls(writer, context, request.host, watch)
                tls = describe_chain(peer_chain(ssl_object, verified=verify))
                tls["version"] = ssl_object.version()
                # Verified means both held; unverified (tls_verify: false) means not checked.
                tls["chain_valid"] = tls["hostname_match"] = True if verify else None
            writer.write(request.data)
            watch.skip()  # ttfb counts from the request sent, like curl's pretransfer
            try:
                response = await read_response(reader, method=request.method, watch=watch)
            except OSError as exc:
                raise ProbeError(
                    "protocol", f"the connection failed while reading: {exc.strerror or exc}"
                ) from None
            return response, tls
        finally:
            await close(writer)


def _stage(timings: dict[str, float], *, https: bool) -> str:
    if "connect" not in timings:
        return "resolving" if "dns" not in timings else "connecting"
    if https and "tls" not in timings:
        return "in the TLS handshake"
    return "reading the response" if "ttfb" in timings else "waiting for the first byte"


def _values(response: Response, tls: Any, redirects: int, url: str) -> dict[str, Any]:
    content_type = response.headers.get("content-type", "")
    charset = "utf-8"
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip().strip('"')
    try:
        text = response.body.decode(charset, "replace")
    except LookupError:
        text = response.body.decode("utf-8", "replace")
    body: Any = text
    # Parse JSON only when it can be JSON: a probe's CPU is the hot path.
    if "json" in content_type or text.lstrip()[:1] in ("{", "["):
        try:
            body = json.loads(text)
        except ValueError:
            body = text
    values: dict[str, Any] = {
        "status": response.status,
        "reason": response.reason,
        "http_version": response.version,
        "headers": response.headers,
        "body": body,
        "body_text": text,
        "body_truncated": response.truncated,
        "redirects": redirects,
        "url": url,
    }
    if tls is not None:
        values["tls"] = tls
    return values
