"""How long a PostgreSQL commit takes on this machine: the floor under intake's latency.

A 202 from Opsbook means the alerts are committed, so on PostgreSQL every answer waits
for at least one commit's WAL flush (``fdatasync``). This times COUNT single-row
``INSERT; COMMIT`` round trips, PAUSE seconds apart, in a scratch table it drops after.

    .venv/bin/python bench/pg_commit_latency.py [DATABASE_URL] [COUNT] [PAUSE]
"""

from __future__ import annotations

import sys
import time

import psycopg
from psycopg import sql


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/test"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    pause = float(sys.argv[3]) if len(sys.argv) > 3 else 0.02
    table = sql.Identifier(f"opsbook_commit_latency_{int(time.time())}")
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (id serial PRIMARY KEY, v text)").format(table))
        conn.commit()
        try:
            took = []
            insert = sql.SQL("INSERT INTO {} (v) VALUES ('x')").format(table)
            for _ in range(count):
                start = time.perf_counter()
                conn.execute(insert)
                conn.commit()
                took.append((time.perf_counter() - start) * 1000)
                time.sleep(pause)
        finally:
            conn.rollback()
            conn.execute(sql.SQL("DROP TABLE {}").format(table))
            conn.commit()
    took.sort()
    p50, p99 = took[len(took) // 2], took[min(len(took) - 1, int(len(took) * 0.99))]
    print(f"COMMIT n={count} p50_ms={p50:.2f} p99_ms={p99:.2f} max_ms={took[-1]:.2f}")


if __name__ == "__main__":
    main()
