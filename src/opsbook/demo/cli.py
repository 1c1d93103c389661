"""``opsbook demo``: everything needed to see Opsbook work, on this machine, in one command."""

from __future__ import annotations

import secrets
import socket
import sys
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from opsbook.core import auth
from opsbook.core.clihelp import fail
from opsbook.demo.mailsink import MailSink, describe_mail
from opsbook.demo.target import (
    DEMO_CERT,
    DEMO_KEY,
    TargetServer,
    TargetState,
    create_app_database,
)
from opsbook.incidents import Incident, open_incident
from opsbook.notify.message import Message
from opsbook.notify.service import notify
from opsbook.runtime import Runtime
from opsbook.server import run_server
from opsbook.settings import Settings

console = Console()
DEMO_CONFIG = Path(__file__).parent / "opsbook.demo.yaml"


def _free_port(host: str, preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise OSError("no free port")


def demo(
    directory: Path = typer.Option(
        Path(".opsbook-demo"), "--dir", help="Where the demo's opsbook.yaml and SQLite file go."
    ),
    port: int = typer.Option(8080, help="Opsbook's port (a free one is used if taken)."),
    target_port: int = typer.Option(8081, help="The sample app's port (a free one if taken)."),
    target_mode: str = typer.Option(
        "ok", help="Start the sample app as ok, slow, degraded or down."
    ),
) -> None:
    """Run the demo: a sample app on 127.0.0.1, and Opsbook watching it on SQLite.

    Writes DIR/opsbook.yaml, starts the sample app (healthz.json, readyz.json,
    /api/health; POST /_demo/mode to break it), and serves Opsbook with its worker.
    Prints the URLs and a login. Ctrl-C stops both.
    """
    host = "127.0.0.1"
    state = TargetState()
    try:
        state.set(target_mode)
    except ValueError as exc:
        fail(f"--target-mode: {exc}", code=2)
    directory.mkdir(parents=True, exist_ok=True)
    target = TargetServer(host, _free_port(host, target_port), state)
    target.start_in_thread()
    tls_target = TargetServer(host, _free_port(host, target_port + 362), state)
    tls_target.use_tls(DEMO_CERT, DEMO_KEY)
    tls_target.start_in_thread()
    app_db = (directory / "app.db").resolve()
    create_app_database(app_db)
    opsbook_port = _free_port(host, port)
    mail_sink = MailSink(
        host,
        on_mail=lambda mail: console.print(describe_mail(mail), highlight=False, soft_wrap=True),
    )
    mail_sink.start()
    config_path = directory / "opsbook.yaml"
    database_url = f"sqlite:///{directory / 'opsbook.db'}"
    config_path.write_text(
        render_demo_config(
            target_url=target.url,
            tls_port=tls_target.server_address[1],
            app_db=app_db,
            config_path=config_path,
            database_url=database_url,
            mail_port=mail_sink.port,
            opsbook_url=f"http://{host}:{opsbook_port}",
        )
    )
    settings = Settings(
        database_url=database_url,
        config_file=config_path,
        listen=f"{host}:{opsbook_port}",
        log_format="console",
    )
    password = secrets.token_urlsafe(9)
    base = f"http://{host}:{opsbook_port}"

    def on_ready(runtime: Runtime) -> None:
        now = runtime.clock.now()
        with runtime.db.session() as session, session.begin():
            auth.set_password(session, person_id="alice", password=password, now=now)
            notify(
                session,
                channels={c.name: c for c in runtime.config.channels},
                channel="console",
                message=Message(
                    title="Opsbook demo started",
                    text=f"Watching {target.url}; this line came through the outbox.",
                    event="demo.started",
                    url=base,
                ),
                idempotency_key=f"demo-started:{now.isoformat()}",
                now=now,
            )
            incident = open_demo_page(session, runtime=runtime)
        lines = [
            "",
            "[bold]opsbook demo[/] is running. Stop with Ctrl-C.",
            f"  Opsbook          {base}/",
            f"  log in as        alice / {password}",
            f"  its health       {base}/healthz  {base}/readyz",
            f"  API docs         {base}/api/docs",
            f"  sample app       {target.url}/   (TLS: {tls_target.url}/)",
            f"  its health       {target.url}/healthz.json  {target.url}/api/health",
            f"  break it         curl -X POST -d mode=down {target.url}/_demo/mode",
            "                   (modes: ok, slow, degraded, down); within a minute the",
            f"                   SiteDown rule opens a P1 incident: {base}/incidents",
            f"  status page      {base}/status   (and {base}/api/v2/summary.json)",
            f"  config           {config_path}",
            f"  its checks       opsbook checks --config {config_path} --database {database_url}",
            f"  on call          {base}/oncall   opsbook oncall now --config {config_path} "
            f"--database {database_url}",
            f"  paging           incident #{incident.number} pages the on-call now (console and",
            f"                   the mail sink on 127.0.0.1:{mail_sink.port}); open its",
            "                   Acknowledge link and press the button to stop the escalation",
            "",
        ]
        console.print("\n".join(lines), highlight=False, soft_wrap=True)

    try:
        run_server(settings, on_ready=on_ready)
    finally:
        for server in (target, tls_target):
            server.shutdown()
            server.server_close()
        mail_sink.stop()


def open_demo_page(session: Session, *, runtime: Runtime) -> Incident:
    """Open the demo's incident: its P1 policy pages the on-call through the outbox."""
    return open_incident(
        session,
        config=runtime.config,
        title="Demo: the on-call is paged (acknowledge me)",
        severity="P1",
        summary="Opened by `opsbook demo` so you can see a page and acknowledge it.",
        by="demo",
        now=runtime.clock.now(),
        source="demo",
    )


def render_demo_config(
    *,
    target_url: str,
    tls_port: int,
    app_db: Path,
    config_path: Path,
    database_url: str,
    mail_port: int = 2525,
    opsbook_url: str = "http://127.0.0.1:8080",
) -> str:
    """The demo's opsbook.yaml with this run's addresses and paths filled in."""
    values = {
        "mail_port": str(mail_port),
        "opsbook_url": opsbook_url,
        "target_url": target_url,
        "tls_port": str(tls_port),
        "tls_ca": str(DEMO_CERT),
        "app_db": str(app_db),
        "python": sys.executable,
        "config_path": str(config_path),
        "database_url": database_url,
    }
    text = DEMO_CONFIG.read_text()
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text
