"""Notes and postmortem sections as safe HTML.

markdown-it-py (already installed: Rich depends on it) renders CommonMark with raw HTML
turned off, so ``<script>`` arrives as text; it refuses ``javascript:``, ``vbscript:``,
``file:`` and ``data:`` links.  On top of that, images become plain links (a note should
not make every reader's browser fetch a third-party URL) and links open with
``rel="nofollow noopener noreferrer"``.  Tables and strikethrough are on, since the
drafted postmortem timeline is a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

_REL = "nofollow noopener noreferrer"


def _link_open(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", _REL)
    rendered: str = self.renderToken(tokens, idx, options, env)
    return rendered


def _image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = token.content or src
    return f'<a href="{escape(src)}" rel="{_REL}">image: {escape(alt)}</a>'


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    return md


def render_markdown(text: str | None) -> Markup:
    """Markdown to HTML that is safe to put in a page as it is."""
    return Markup(_parser().render(text or ""))  # noqa: S704 - raw HTML is off: see above
