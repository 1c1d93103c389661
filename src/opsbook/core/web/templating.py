"""Jinja2 environment shared by every domain's pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from opsbook import __version__

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
HTMX_FILE = "htmx-2.0.11.min.js"

templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))
templates.env.globals.update(version=__version__, htmx_file=HTMX_FILE)


def add_template_dir(path: Path) -> None:
    """Let a domain package put its own templates beside the base layout."""
    loader = templates.env.loader
    searchpath = getattr(loader, "searchpath", None)
    if searchpath is not None and str(path) not in searchpath:
        searchpath.append(str(path))


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    runtime = request.app.state.runtime
    context.setdefault("principal", principal)
    context.setdefault("service_name", runtime.config.service.name)
    context.setdefault("csrf_token", principal.csrf_token if principal else "")
    return templates.TemplateResponse(request, name, context, status_code=status_code)
