"""Logging a person in through the login form, as the browser tests do."""

from __future__ import annotations

from typing import TYPE_CHECKING

from opsbook.core import auth
from opsbook.runtime import Runtime

if TYPE_CHECKING:
    from playwright.sync_api import Page

PASSWORD = "correct horse battery"


def log_in(page: Page, base: str, runtime: Runtime, person: str, path: str = "/") -> None:
    """Give ``person`` a password, open ``path``, log in through the form, land on ``path``."""
    with runtime.db.session() as session, session.begin():
        auth.set_password(session, person_id=person, password=PASSWORD, now=runtime.clock.now())
    page.goto(f"{base}{path}")
    page.get_by_label("Person id").fill(person)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}{path}")
