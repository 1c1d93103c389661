"""Running the long-lived roles: ``serve`` (HTTP + worker) and ``worker``."""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError

from opsbook.config import ConfigError
from opsbook.core.clihelp import fail
from opsbook.core.logging import configure_logging
from opsbook.runtime import Runtime
from opsbook.settings import Settings

log = structlog.get_logger(__name__)


def build_runtime(settings: Settings) -> Runtime:
    """Load config and database for a long-running command, or exit with a clear message."""
    try:
        return Runtime.create(settings)
    except ConfigError as exc:
        fail(f"{settings.config_file} is not valid:\n{exc}", code=2)
    except SQLAlchemyError as exc:
        fail(f"cannot use database {settings.database_url}: {type(exc).__name__}: {exc.args[0]}")


def install_signals(stop: threading.Event, runtime: Runtime) -> None:
    """SIGTERM/SIGINT drain, SIGHUP reloads opsbook.yaml."""

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            log.info("shutdown.requested", signal=signal.Signals(signum).name)
        stop.set()

    def reload(_signum: int, _frame: FrameType | None) -> None:
        try:
            runtime.reload_config()
        except (ConfigError, OSError, RuntimeError) as exc:
            log.error("config.reload_failed", error=str(exc))

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGHUP, reload)


def run_server(
    settings: Settings,
    *,
    with_worker: bool = True,
    on_ready: Callable[[Runtime], None] | None = None,
) -> None:
    """Serve HTTP and (unless ``with_worker`` is false) run the worker, until SIGTERM.

    uvicorn handles the signal for the HTTP side and re-raises it after its own
    graceful shutdown, which reaches our handler and stops the worker thread, which
    finishes its round before we exit.
    """
    import uvicorn

    from opsbook.app import create_app

    configure_logging(fmt=settings.log_format, level=settings.log_level)
    try:
        host, port = settings.listen_host_port()
    except ValueError:
        fail(f"--listen must be HOST:PORT, got {settings.listen!r}", code=2)
    runtime = build_runtime(settings)
    stop = threading.Event()
    install_signals(stop, runtime)
    worker = runtime.run_worker_thread(stop) if with_worker else None
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=runtime),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=int(settings.shutdown_grace.total_seconds()),
            http=http_protocol(runtime),
        )
    )
    if on_ready is not None:
        on_ready(runtime)
    log.info(
        "serve.starting",
        listen=f"{host}:{port}",
        worker=with_worker,
        database=runtime.db.engine.url.render_as_string(hide_password=True),
    )
    # Everything built so far (the app, config, ORM mappers, imports) lives as long as
    # the process: keep it out of the collector's way.  A full collection over it
    # stalls every thread for 100+ ms, which is a notification that late.
    gc.collect()
    gc.freeze()
    server.run()
    stop.set()
    if worker is not None:
        worker.join(timeout=settings.shutdown_grace.total_seconds())
    runtime.db.dispose()
    if not server.started:
        fail(f"could not listen on {host}:{port} (is something else using it?)")
    log.info("serve.stopped")


def http_protocol(runtime: Runtime) -> Any:
    """uvicorn's ``http``: the alert intake served from the protocol itself when uvicorn
    runs on httptools (see :mod:`opsbook.core.front`), else uvicorn's choice."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return "auto"
    from opsbook.core.front import front_protocol

    return front_protocol(lambda: runtime.intake)


def run_worker(settings: Settings) -> None:
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    runtime = build_runtime(settings)
    stop = threading.Event()
    install_signals(stop, runtime)
    asyncio.run(runtime.build_worker().run(stop))
    runtime.db.dispose()
