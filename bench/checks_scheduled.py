"""Scheduled mode: N HTTP checks at a 60 s interval against a local nginx, one worker.

Measures, per N (default 1,000 and 10,000): results started and persisted (every one
must be), start lag behind schedule (p50/p99/max, from the scheduler's own stats), the
worker's CPU and peak memory.  Bounded: each N runs for ``--seconds`` (default 130 s,
two full intervals) and everything started here is stopped here.  Loopback only.

    .venv/bin/python bench/checks_scheduled.py                 # SQLite (the default)
    .venv/bin/python bench/checks_scheduled.py --database postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
OPSBOOK = ROOT / ".venv" / "bin" / "opsbook"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_nginx(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    if shutil.which("nginx") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx"], check=True)
    port = free_port()
    (directory / "www").mkdir()
    (directory / "www" / "health").write_text('{"status": "ok"}')
    conf = directory / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1; daemon off; pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{ worker_connections 4096; }}
http {{ access_log off; server {{ listen 127.0.0.1:{port}; root {directory}/www;
  location / {{ default_type application/json; }} }} }}
"""
    )
    proc = subprocess.Popen(["nginx", "-c", str(conf)], stderr=subprocess.DEVNULL)
    for _ in range(100):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("nginx did not start")


def config_text(n: int, port: int) -> str:
    lines = ["service: {name: scheduled benchmark}", "checks:"]
    for i in range(n):
        lines.append(
            f"  - {{name: c{i}, every: 60s, timeout: 5s, "
            f"http: {{url: 'http://127.0.0.1:{port}/health?n={i}'}}}}"
        )
    return "\n".join(lines) + "\n"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run(n: int, seconds: float, database: str | None, port: int, work: Path) -> dict[str, float]:
    run_dir = work / f"n{n}"
    run_dir.mkdir()
    (run_dir / "opsbook.yaml").write_text(config_text(n, port))
    url = database or f"sqlite:///{run_dir / 'opsbook.db'}"
    env = {
        **os.environ,
        "OPSBOOK_CONFIG": str(run_dir / "opsbook.yaml"),
        "OPSBOOK_DATABASE_URL": url,
        "OPSBOOK_LOG_FORMAT": "json",
    }
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    if database:
        subprocess.run([str(OPSBOOK), "db", "upgrade"], env=env, check=True, capture_output=True)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "TRUNCATE check_results, check_rollups, check_states, "
                    "check_transitions, check_leases, check_schedulers"
                )
            )
    log = (run_dir / "worker.log").open("w")
    proc = subprocess.Popen([str(OPSBOOK), "worker"], env=env, stderr=log)
    try:
        time.sleep(seconds)
        cpu = cpu_seconds(proc.pid)
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        log.close()
    stats = [
        json.loads(line)
        for line in (run_dir / "worker.log").read_text().splitlines()
        if '"checks.stats"' in line
    ]
    final = stats[-1]
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM check_results")).scalar_one()
    engine.dispose()
    return {
        "checks": n,
        "seconds": seconds,
        "started": final["started"],
        "persisted": stored,
        "written": final["results_written"],
        "write_errors": final["write_errors"],
        "lag_p50_ms": final["lag_p50"] * 1000,
        "lag_p99_ms": final["lag_p99"] * 1000,
        "lag_max_ms": final["lag_max"] * 1000,
        "cpu_s": cpu,
        "cpu_pct": 100 * cpu / seconds,
        "cpu_ms_per_check_run": 1000 * cpu / max(1, final["started"]),
        "peak_rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checks", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--seconds", type=float, default=130.0)
    parser.add_argument("--database", default=None, help="PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opsbook-bench-sched-") as tmp:
        work = Path(tmp)
        nginx, port = start_nginx(work)
        try:
            for n in args.checks:
                row = run(n, args.seconds, args.database, port, work)
                print(
                    "RESULT "
                    + " ".join(
                        f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in row.items()
                    ),
                    flush=True,
                )
        finally:
            nginx.send_signal(signal.SIGQUIT)
            nginx.wait(timeout=10)
    sys.exit(0)


if __name__ == "__main__":
    main()
