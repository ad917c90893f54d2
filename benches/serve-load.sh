#!/usr/bin/env bash
# Load on `careplans serve` (not a timed test): 50 concurrent connections for 10 seconds on the
# overview page and on a review page, with wrk (Debian's package; installed if missing and root).
#   bash benches/serve-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then apt-get install -y -qq wrk >/dev/null; else echo "install wrk first" >&2; exit 1; fi
fi
cargo build --release --quiet
port=$((20000 + RANDOM % 20000))
log="$(mktemp)"
./target/release/careplans serve --port "$port" >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do grep -q serving "$log" && break; sleep 0.1; done
base="http://127.0.0.1:$port"
# A review page: the last commit against the one before it.
review="/review/HEAD~1...HEAD"
for path in "/index.html" "$review"; do
    echo "### $path"
    wrk --threads 2 --connections 50 --duration 10s --latency "$base$path" |
        grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors|requests in"
done
