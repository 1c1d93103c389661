"""A fast path ahead of the ASGI app for a few hot endpoints, inside uvicorn's protocol.

``opsbook serve`` runs uvicorn with :func:`front_protocol`'s class: uvicorn's own
httptools protocol (its parsing, keep-alive, pipelining, flow control, limits and
graceful shutdown all stay), except that a request a :class:`FastRoutes` claims is
answered by its handler directly, with the body read from the protocol's buffer and
the response written in one ``write``: no ASGI scope, messages or middleware stack.
Every other request goes to the ASGI app exactly as before.  See docs/performance.md.
"""

from opsbook.core.front._protocol import (
    FastHandler,
    FastRoutes,
    FrontReply,
    FrontRequest,
    front_protocol,
)

__all__ = ["FastHandler", "FastRoutes", "FrontReply", "FrontRequest", "front_protocol"]
