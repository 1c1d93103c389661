"""Twilio-style gateways with failover, for the sms and voice channels.

Providers are tried in order.  What moves on to the next one is a failure that says
something about *that provider*: a timeout, a refused or dropped connection, a 5xx, a
429, or a 401/403/404 (its credentials or account are wrong).  A 400 or any other 4xx is
about the request itself (an invalid or unreachable number, a body too long): another
provider would refuse it too, so it ends the attempt at once and is not retried.  When
every provider fails, the delivery is retried later if any failure could pass.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Final
from urllib.parse import quote

import httpx
import structlog

from opsbook.notify.base import DeliveryError, OutgoingNotification
from opsbook.notify.http import MAX_ERROR_BODY, USER_AGENT, classify, clean, read_head
from opsbook.notify.sms.config import GatewayConfig

log = structlog.get_logger(__name__)

API_VERSION: Final = "2010-04-01"
# The provider is at fault (credentials, account): its neighbour may well succeed.
_PROVIDER_FAULT: Final = frozenset({401, 403, 404})


class GatewayFailure(DeliveryError):
    """A provider failed; ``failover`` says whether the next provider should be tried."""

    def __init__(
        self,
        message: str,
        retryable: bool,
        retry_after: timedelta | None = None,
        *,
        failover: bool,
    ) -> None:
        super().__init__(message, retryable, retry_after)
        self.failover = failover


async def deliver(
    client: httpx.AsyncClient,
    providers: Sequence[GatewayConfig],
    resource: str,
    form: Mapping[str, str],
    delivery: OutgoingNotification,
    timeout: httpx.Timeout,
    *,
    channel_kind: str,
) -> None:
    """Create ``resource`` (``Messages`` or ``Calls``) with the first provider that accepts.

    ``form`` lacks ``From``: each provider sends from its own number.
    """
    failures: list[GatewayFailure] = []
    for number, provider in enumerate(providers, start=1):
        try:
            await _create(client, provider, resource, form, delivery, timeout)
        except GatewayFailure as failure:
            failures.append(failure)
            log.warning(
                f"notify.{channel_kind}.provider_failed",
                channel=delivery.channel,
                provider=number,
                api_base=provider.api_base,
                error=str(failure),
                failover=failure.failover,
            )
            if not failure.failover:
                break
            continue
        log.info(
            f"notify.{channel_kind}.delivered",
            channel=delivery.channel,
            provider=number,
            api_base=provider.api_base,
            account_sid=provider.account_sid,
        )
        return
    raise _overall(failures, len(providers))


def _overall(failures: list[GatewayFailure], count: int) -> DeliveryError:
    if len(failures) == 1 and count == 1:
        only = failures[0]
        return DeliveryError(str(only), only.retryable, only.retry_after)
    last = failures[-1]
    summary = "; ".join(f"provider {i}: {failure}" for i, failure in enumerate(failures, 1))
    if not last.failover:
        return DeliveryError(summary, retryable=False)
    retryable = any(failure.retryable for failure in failures)
    waits = [f.retry_after for f in failures if f.retryable and f.retry_after is not None]
    # Some provider that asked for no particular wait may be ready at the next backoff.
    retry_after = min(waits) if waits and all(f.retry_after for f in failures) else None
    return DeliveryError(f"all {count} providers failed: {summary}", retryable, retry_after)


async def _create(
    client: httpx.AsyncClient,
    provider: GatewayConfig,
    resource: str,
    form: Mapping[str, str],
    delivery: OutgoingNotification,
    timeout: httpx.Timeout,
) -> None:
    token = provider.auth_token.get_secret_value()
    url = (
        f"{provider.api_base.rstrip('/')}/{API_VERSION}/Accounts/"
        f"{quote(provider.account_sid, safe='')}/{resource}.json"
    )
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
        "Idempotency-Key": delivery.idempotency_key,
    }
    data = {**form, "From": provider.from_}
    try:
        async with client.stream(
            "POST",
            url,
            data=data,
            headers=headers,
            auth=httpx.BasicAuth(provider.account_sid, token),
            timeout=timeout,
            follow_redirects=False,
        ) as response:
            if response.is_success:
                return
            head = await read_head(response, MAX_ERROR_BODY * 4)
    except httpx.TimeoutException:
        raise GatewayFailure(
            f"timed out after {timeout.read:g}s", retryable=True, failover=True
        ) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise GatewayFailure(
            f"invalid api_base: {type(exc).__name__}", retryable=False, failover=True
        ) from None
    except httpx.TransportError as exc:
        raise GatewayFailure(
            f"connection failed: {type(exc).__name__}: {clean(str(exc), [token])}",
            retryable=True,
            failover=True,
        ) from None
    error = classify(response, clean(_detail(head), [token]), delivery.sent_at)
    failover = error.retryable or response.status_code in _PROVIDER_FAULT
    raise GatewayFailure(str(error), error.retryable, error.retry_after, failover=failover)


def _detail(head: bytes) -> str:
    """Twilio's ``{"code": 21211, "message": "..."}`` as ``21211 ...``, else the raw text."""
    text = head.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if isinstance(data, dict) and "message" in data:
        code = data.get("code")
        return f"{code} {data['message']}" if code is not None else str(data["message"])
    return text


def check_phone_target(target: str) -> None:
    """Raise ``ValueError`` unless ``target`` is an E.164 number like ``+14155550123``."""
    if not (target.startswith("+") and target[1:].isdigit() and 7 <= len(target) - 1 <= 15):
        raise ValueError(f"expected an E.164 phone number like +14155550123, got {target!r}")
    if target[1] == "0":
        raise ValueError(f"expected an E.164 phone number like +14155550123, got {target!r}")


def recipient(target: str | None, default: str | None) -> str:
    """The number to reach: the delivery's target, else the channel's ``to``."""
    number = target or default
    if number is None:
        raise DeliveryError("no phone number: the notification has no target and no `to`", False)
    return number
