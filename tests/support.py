"""Small helpers shared by tests (fixtures live in conftest.py)."""

from __future__ import annotations


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
