"""Whether an alert is muted right now, by a silence or by an inhibition rule.

A :class:`Muter` is built once per transaction that needs it (a flush, an incident
decision, a listing) from the active silences and, per inhibition rule, the firing
alerts that match its source side.  Inhibition is Alertmanager's: a target is muted
while some firing source alert has the same values of the ``equal`` labels (a label
missing on both sides counts as equal); an alert that matches both sides is not muted
by source alerts that also match the target side.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from opsbook.alerts.config import AlertsConfig, InhibitRuleConfig
from opsbook.alerts.ingest import Sql, Tx, json_value
from opsbook.alerts.labels import fingerprint
from opsbook.alerts.matchers import Matcher, can_match, matches_all
from opsbook.alerts.silences import active_silences


@dataclass(frozen=True, slots=True)
class MuteStatus:
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()

    @property
    def muted(self) -> bool:
        return bool(self.silenced_by or self.inhibited_by)

    @property
    def state(self) -> str:
        """Alertmanager's ``status.state``: ``suppressed`` or ``active``."""
        return "suppressed" if self.muted else "active"


NOT_MUTED = MuteStatus()


@dataclass
class _Rule:
    config: InhibitRuleConfig
    sources: Sequence[Mapping[str, str]]


@dataclass
class Muter:
    silences: list[tuple[str, list[Matcher]]] = field(default_factory=list)
    rules: list[_Rule] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.silences and not any(rule.sources for rule in self.rules)

    def status(self, labels: Mapping[str, str]) -> MuteStatus:
        if self.empty:
            return NOT_MUTED
        silenced = tuple(sid for sid, matchers in self.silences if matches_all(matchers, labels))
        inhibited: list[str] = []
        for rule in self.rules:
            if not rule.sources or not matches_all(rule.config.target_matchers, labels):
                continue
            two_sided = matches_all(rule.config.source_matchers, labels)
            for source in rule.sources:
                if any(source.get(n, "") != labels.get(n, "") for n in rule.config.equal):
                    continue
                if two_sided and matches_all(rule.config.target_matchers, source):
                    continue
                inhibited.append(fingerprint(source))
                break
        if not silenced and not inhibited:
            return NOT_MUTED
        return MuteStatus(silenced, tuple(dict.fromkeys(inhibited)))

    def may_mute(self, known: Mapping[str, str]) -> bool:
        """False when no alert with the labels ``known`` (a group's) can be muted."""
        if any(can_match(matchers, known) for _, matchers in self.silences):
            return True
        return any(
            rule.sources and can_match(rule.config.target_matchers, known) for rule in self.rules
        )


def _equality_alertname(matchers: Sequence[Matcher]) -> str | None:
    for matcher in matchers:
        if matcher.name == "alertname" and matcher.operator == "=":
            return matcher.value
    return None


def firing_alerts(
    session: Tx, *, now: datetime, alertname: str | None = None
) -> list[dict[str, str]]:
    """Label sets of open, firing alerts (by ``alertname`` when given: it is indexed)."""
    sql = Sql(session)
    query = (
        "SELECT labels FROM alerts WHERE resolved_at IS NULL "
        f"AND (ends_at IS NULL OR ends_at > {sql.ph})"
    )
    params: list[object] = [sql.time(now)]
    if alertname is not None:
        query += f" AND alertname = {sql.ph}"
        params.append(alertname)
    return [json_value(labels) for (labels,) in sql.rows(query, params)]


def build_muter(
    session: Tx,
    *,
    config: AlertsConfig,
    now: datetime,
    silences: list[tuple[str, list[Matcher]]] | None = None,
) -> Muter:
    """The muter at ``now``; ``silences`` are the active ones when the caller read them."""
    rules = []
    for rule in config.inhibit_rules:
        candidates = firing_alerts(
            session, now=now, alertname=_equality_alertname(rule.source_matchers)
        )
        sources = [labels for labels in candidates if matches_all(rule.source_matchers, labels)]
        rules.append(_Rule(rule, sources))
    if silences is None:
        silences = active_silences(session, now=now)
    return Muter(silences=silences, rules=rules)


def labels_json(value: object) -> dict[str, str]:
    data = json.loads(value) if isinstance(value, str) else value
    return dict(data) if isinstance(data, dict) else {}
