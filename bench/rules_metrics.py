"""Rule evaluation cost and metric ingestion rate. Bounded, loopback only.

1. Evaluation: 1,000 series, 100 rules (instant thresholds, rate() and avg() over 5m
   windows, and vector arithmetic between two metrics), evaluated in-process through
   the same function the ``rules.evaluate`` job runs, with 15 s samples; reports wall
   and CPU time per round of all rules, per rule, and per series compared.
2. Ingestion: an ``opsbook serve --no-worker`` process takes batches of 1,000 samples
   on ``POST /api/v1/metrics`` from 4 client threads for ``--seconds``; reports samples
   per second and per server CPU-second.

    .venv/bin/python bench/rules_metrics.py                 # SQLite
    .venv/bin/python bench/rules_metrics.py --database postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from opsbook.alerts.rules.jobs import evaluate_due
from opsbook.config import load_config_text
from opsbook.core.auth import create_token
from opsbook.core.db import Database, make_engine
from opsbook.core.migrate import upgrade
from opsbook.metrics.store import Sample, SeriesCache, write_samples

ROOT = Path(__file__).resolve().parent.parent
OPSBOOK = ROOT / ".venv" / "bin" / "opsbook"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERIES = 1000
STEP = timedelta(seconds=15)


def fresh_database(base: str | None, work: Path) -> str:
    if base is None:
        return f"sqlite:///{work / f'bench-{uuid.uuid4().hex[:6]}.db'}"
    name = f"opsbook_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.rsplit("/", 1)[0] + "/" + name


def drop_database(base: str | None, url: str) -> None:
    if base is None:
        return
    admin = make_engine(base, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def rules_yaml(count: int) -> str:
    kinds = [
        'bench_load{{shard="{s}"}} > {t}',
        'rate(bench_requests_total{{shard="{s}"}}[5m]) > {t}',
        'avg(bench_load{{shard="{s}"}}[5m]) > {t}',
        'bench_used{{shard="{s}"}} / bench_limit{{shard="{s}"}} > 0.{t}',
    ]
    lines = ["service: {name: Bench}", "rules:"]
    for index in range(count):
        expr = kinds[index % len(kinds)].format(s=index % 10, t=90 + index % 9)
        lines.append(f"  - {{name: Rule{index}, expr: '{expr}', for: 2m}}")
    return "\n".join(lines) + "\n"


def write_minute(db: Database, at: datetime, minute: int, cache: SeriesCache) -> None:
    samples = []
    for step in range(4):
        when = at - (3 - step) * STEP
        for i in range(SERIES):
            labels = {"instance": f"host-{i}", "shard": str(i % 10)}
            load = float((i * 7 + minute) % 100)
            samples += [
                Sample("bench_load", labels, load, when),
                Sample(
                    "bench_requests_total", labels, float((minute * 4 + step) * (i % 200)), when
                ),
                Sample("bench_used", labels, load, when),
                Sample("bench_limit", labels, 100.0, when),
            ]
    with db.session() as session, session.begin():
        write_samples(session, samples=samples, now=at, cache=cache)


def bench_evaluation(url: str, rounds: int) -> dict[str, Any]:
    db = Database.connect(url)
    upgrade(db.engine)
    config = load_config_text(rules_yaml(100))
    cache = SeriesCache()
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    for minute in range(6):  # the windows fill before the first measured round
        write_minute(db, start + minute * timedelta(minutes=1), minute, cache)
    if db.dialect == "postgresql":
        # A running database has statistics (autovacuum); a fresh one would be planned blind.
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    sent = {"alerts": 0}

    def sink(session: Any, *, alerts: Any, now: datetime) -> None:
        sent["alerts"] += len(alerts)

    walls, cpus, series = [], [], 0
    for round_index in range(rounds):
        now = start + (6 + round_index) * timedelta(minutes=1)
        write_minute(db, now, 6 + round_index, cache)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        with db.session() as session, session.begin():
            results = evaluate_due(session, config=config, rules=config.rules, now=now, sink=sink)
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
        series = sum(r.series for r in results)
    db.dispose()
    wall = sorted(walls)[len(walls) // 2]
    cpu = sorted(cpus)[len(cpus) // 2]
    return {
        "rules": 100,
        "series_per_metric": SERIES,
        "series_compared_per_round": series,
        "round_wall_s_median": round(wall, 3),
        "round_cpu_s_median": round(cpu, 3),
        "ms_per_rule": round(wall * 1000 / 100, 2),
        "us_per_series": round(wall * 1e6 / max(series, 1), 1),
        "alerts_sent": sent["alerts"],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def bench_ingestion(url: str, seconds: float, work: Path) -> dict[str, Any]:
    db = Database.connect(url)
    upgrade(db.engine)
    with db.session() as session, session.begin():
        _token, raw = create_token(session, name="bench", role="responder", now=datetime.now(UTC))
    db.dispose()
    config = work / "opsbook.yaml"
    config.write_text("service: {name: Bench}\n")
    port = free_port()
    env = {
        **os.environ,
        "OPSBOOK_DATABASE_URL": url,
        "OPSBOOK_CONFIG": str(config),
        "OPSBOOK_LOG_LEVEL": "warning",
    }
    log = (work / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(OPSBOOK), "serve", "--no-worker", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        stored = {"samples": 0, "errors": 0}
        lock = threading.Lock()
        deadline = time.monotonic() + seconds

        def client(worker: int) -> None:
            headers = {"Authorization": f"Bearer {raw}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                batch_number = 0
                while time.monotonic() < deadline:
                    batch_number += 1
                    samples = [
                        {
                            "name": "bench_pushed",
                            "value": float(batch_number),
                            "labels": {"client": str(worker), "series": str(i)},
                        }
                        for i in range(1000)
                    ]
                    response = http.post("/api/v1/metrics", json={"samples": samples})
                    with lock:
                        if response.status_code == 200:
                            stored["samples"] += response.json()["samples"]
                        else:
                            stored["errors"] += 1

        cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - wall0
        cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    return {
        "clients": 4,
        "batch": 1000,
        "seconds": round(wall, 1),
        "samples_stored": stored["samples"],
        "errors": stored["errors"],
        "samples_per_s": round(stored["samples"] / wall),
        "server_cpu_s": round(cpu, 1),
        "samples_per_server_cpu_s": round(stored["samples"] / cpu) if cpu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="a PostgreSQL URL to create bench databases under")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="opsbook-bench-") as directory:
        work = Path(directory)
        report: dict[str, Any] = {"engine": "postgresql" if args.database else "sqlite"}
        for part, run in (
            ("evaluation", lambda url: bench_evaluation(url, args.rounds)),
            ("ingestion", lambda url: bench_ingestion(url, args.seconds, work)),
        ):
            url = fresh_database(args.database, work)
            try:
                report[part] = run(url)
            finally:
                drop_database(args.database, url)
        report["bench_peak_rss_mb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
