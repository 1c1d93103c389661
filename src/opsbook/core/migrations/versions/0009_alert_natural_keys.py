"""alerts: a label set's dedup key is its sorted JSON text, no longer a digest of it

Revision ID: 0009_alert_natural_keys
Revises: 0008_alerts
Create Date: 2026-12-01 22:30:00

Rewrites the ``dedup_key`` of every alert identified by its label set (the key was the
BLAKE2b digest of the labels' sorted JSON; see ``opsbook.alerts.labels.label_key`` for
the new one), so that a repeat of an open alert still finds it after the upgrade, and
incidents still name old alerts by their fingerprint.  Keys a source gave (PagerDuty's,
a mapped webhook's) are left as they are.  The encodings are spelt out here rather than
imported: a migration must keep doing what it did when the code moves on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009_alert_natural_keys"
down_revision = "0008_alerts"
branch_labels = None
depends_on = None

_BATCH = 5000
_NATURAL_KEY_MAX = 200
_alerts = sa.table(
    "alerts",
    sa.column("id", sa.Integer),
    sa.column("dedup_key", sa.String),
    sa.column("labels", sa.JSON),
)


def _text(labels: Any) -> str:
    parsed = json.loads(labels) if isinstance(labels, str | bytes) else labels
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"))


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _natural(text: str) -> str:
    if len(text) <= _NATURAL_KEY_MAX:
        return text
    digest = _digest(text)
    return text[: _NATURAL_KEY_MAX - len(digest) - 1] + "#" + digest


def _rekey(old: Callable[[str], str], new: Callable[[str], str]) -> None:
    """Give each alert whose key is ``old(text)`` the key ``new(text)``, in batches."""
    bind = op.get_bind()
    update = (
        _alerts.update()
        .where(_alerts.c.id == sa.bindparam("row_id"))
        .values(dedup_key=sa.bindparam("new_key"))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(_alerts.c.id, _alerts.c.dedup_key, _alerts.c.labels)
            .where(_alerts.c.id > last)
            .order_by(_alerts.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        changes = []
        for row_id, key, labels in rows:
            text = _text(labels)
            if key == old(text):
                changes.append({"row_id": row_id, "new_key": new(text)})
        if changes:
            bind.execute(update, changes)
        last = rows[-1][0]


def upgrade() -> None:
    _rekey(_digest, _natural)


def downgrade() -> None:
    _rekey(_natural, _digest)
