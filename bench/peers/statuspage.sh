#!/usr/bin/env bash
# bench/peers/statuspage.sh PORT - Opsbook's real public status page, for the peer benchmark.
#
# Seeds a throwaway SQLite database (50 components in 5 groups, 90 days of uptime history,
# a few incidents; bench/statuspage_seed.py), then serves the status site in the
# foreground on 127.0.0.1:PORT with `opsbook status serve` (2 processes, SO_REUSEPORT):
# the page at /, built once from the snapshot.  The rendered page is left at
# $STATUSPAGE_DIR/page.html (default /tmp/opsbook-bench-sp) for PAGE_FILE.  Used as:
#
#   bash bench/peers/statuspage.sh 0 --seed-only      # writes the page for PAGE_FILE
#   PAGE_FILE=/tmp/opsbook-bench-sp/page.html OURS_PATH=/ \
#   OURS_CMD='bash bench/peers/statuspage.sh {port}' ../shared/bench/peers/static_page_limit.sh
set -euo pipefail
PORT=${1:?usage: statuspage.sh PORT [--seed-only]}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${STATUSPAGE_DIR:-/tmp/opsbook-bench-sp}
PROCESSES=${STATUSPAGE_PROCESSES:-2}
rm -rf "$DIR"; mkdir -p "$DIR"
export OPSBOOK_LOG_LEVEL=warning OPSBOOK_LOG_FORMAT=json
"$HERE/.venv/bin/python" "$HERE/bench/statuspage_seed.py" "$DIR"
[[ "${2:-}" == "--seed-only" ]] && exit 0
exec "$HERE/.venv/bin/opsbook" status serve --listen "127.0.0.1:$PORT" --processes "$PROCESSES" \
  --config "$DIR/opsbook.yaml" --database "sqlite:///$DIR/opsbook.db"
