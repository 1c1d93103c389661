#!/usr/bin/env bash
# bench/peers/alertmanager.sh PORT STORAGE_DIR WEBHOOK_URL [DATABASE_URL]
#
# Starts, in the foreground, an Opsbook that stands in for the peer Alertmanager of
# ../shared/bench/peers/alertmanager_ingest.sh:
#   - listens on 127.0.0.1:PORT, ready at /readyz;
#   - accepts the Alertmanager API (POST/GET /api/v2/alerts, /api/v2/silences), public
#     (alerts.alertmanager_api.public: the script sends no token; loopback only);
#   - routes every alert to an alertmanager-webhook channel at WEBHOOK_URL with the
#     peer's grouping: group_by [alertname, service], group_wait 0s, group_interval 1s,
#     repeat_interval 1h, max_alerts 5, send_resolved false;
#   - stores in STORAGE_DIR/opsbook.db (SQLite), or, given DATABASE_URL (a PostgreSQL
#     server URL), in a fresh database of its own, created at the first start and reused
#     by later starts with the same STORAGE_DIR (so the kill -9 step finds its data).
#
#   OURS_CMD='bash bench/peers/alertmanager.sh {port} {storage} {webhook}' OURS_READY=/readyz \
#     ../shared/bench/peers/alertmanager_ingest.sh
#   OURS_CMD='bash bench/peers/alertmanager.sh {port} {storage} {webhook} postgresql://postgres@127.0.0.1:5432/test' ...
set -euo pipefail
PORT=${1:?usage: alertmanager.sh PORT STORAGE_DIR WEBHOOK_URL [DATABASE_URL]}
STORAGE=${2:?storage dir}
WEBHOOK=${3:?webhook url}
SERVER_URL=${4:-}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
PY=$HERE/.venv/bin/python
mkdir -p "$STORAGE"

if [[ -n "$SERVER_URL" ]]; then
  if [[ ! -s "$STORAGE/database_url" ]]; then
    # A database of its own, its comment naming this storage dir. Bench databases whose
    # storage dir is gone (the peer script removes its own at the end, and before each
    # start-to-ready run), or that are a day old, are dropped first, so that repeated
    # runs do not pile them up.
    "$PY" - "$SERVER_URL" "$STORAGE/database_url" "$(cd "$STORAGE" && pwd)" <<'PYEOF'
import os, sys, time, uuid
import psycopg
from psycopg import sql
server, out, storage = sys.argv[1], sys.argv[2], sys.argv[3]
dsn = server.replace("postgresql+psycopg://", "postgresql://", 1)
name = f"opsbook_bench_{int(time.time())}_{uuid.uuid4().hex[:6]}"
with psycopg.connect(dsn, autocommit=True) as conn:
    rows = conn.execute(
        "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE datname LIKE 'opsbook_bench_%'"
    ).fetchall()
    for old, comment in rows:
        stamp = old.split("_")[2]
        stale = stamp.isdigit() and time.time() - int(stamp) > 86400
        if stale or (comment and comment.startswith("/") and not os.path.isdir(comment)):
            conn.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
    conn.execute(f'CREATE DATABASE "{name}"')
    conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(storage)))
base, _, _ = dsn.rpartition("/")
open(out, "w").write(f"{base}/{name}\n")
PYEOF
  fi
  DATABASE=$(cat "$STORAGE/database_url")
else
  DATABASE="sqlite:///$STORAGE/opsbook.db"
fi

cat > "$STORAGE/opsbook.yaml" <<YAML
service:
  name: alertmanager benchmark
channels:
  - name: webhook
    kind: alertmanager-webhook
    url: $WEBHOOK
    max_alerts: 5
    send_resolved: false
alerts:
  alertmanager_api:
    public: true
  route:
    channels: [webhook]
    group_by: [alertname, service]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1h
YAML
export OPSBOOK_LOG_LEVEL=warning OPSBOOK_LOG_FORMAT=json
exec "$HERE/.venv/bin/opsbook" serve --listen "127.0.0.1:$PORT" \
  --config "$STORAGE/opsbook.yaml" --database "$DATABASE"
