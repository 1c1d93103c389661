#!/usr/bin/env bash
# bench/peers/blackbox.sh PORT - Opsbook as a blackbox_exporter, for the peer benchmark.
#
# Starts, in the foreground, an Opsbook serving the blackbox-compatible /probe on
# 127.0.0.1:PORT (ready at /readyz) on a throwaway SQLite file.  /probe is public here
# (settings.probe.public) because the peer script sends no token; the server binds to
# loopback only.  Used as:
#
#   OURS_CMD='bash bench/peers/blackbox.sh {port}' OURS_READY=/readyz \
#     ../shared/bench/peers/blackbox_probe.sh
set -euo pipefail
PORT=${1:?usage: blackbox.sh PORT}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
DIR=$(mktemp -d /tmp/opsbook-bench-bb.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
cat > "$DIR/opsbook.yaml" <<YAML
service:
  name: blackbox benchmark
settings:
  probe:
    public: true
YAML
export OPSBOOK_LOG_LEVEL=warning OPSBOOK_LOG_FORMAT=json
exec "$HERE/.venv/bin/opsbook" serve --listen "127.0.0.1:$PORT" \
  --config "$DIR/opsbook.yaml" --database "sqlite:///$DIR/opsbook.db"
