#!/usr/bin/env bash
# Load on `careplans serve` (not a timed test), with wrk (Debian's package; installed if missing
# and root): 50 concurrent connections for 10 seconds on the overview page and on a review
# page, first alone and then while 300 event streams and 3,000 idle connections (that never
# send a request) are held open; then how many idle connections the server closed after its
# header read timeout and how many event streams are still open.
#   bash benches/serve-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then apt-get install -y -qq wrk >/dev/null; else echo "install wrk first" >&2; exit 1; fi
fi
# Idle connections need file descriptors on both sides.
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet
port=$((20000 + RANDOM % 20000))
log="$(mktemp)"
./target/release/careplans serve --port "$port" >"$log" 2>&1 &
server=$!
holder=""
trap 'kill $server $holder 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do grep -q serving "$log" && break; sleep 0.1; done
base="http://127.0.0.1:$port"
# A review page: the last commit against the one before it.
review="/review/HEAD~1...HEAD"
load() {
    for path in "/index.html" "$review"; do
        echo "### $path ($1)"
        wrk --threads 2 --connections 50 --duration 10s --latency "$base$path" |
            grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors|requests in"
    done
}
load "alone"

# Hold 300 event streams and 3,000 idle connections open, and report on them afterwards.
report="$(mktemp)"
python3 - "$port" "$report" <<'PY' &
import socket, sys, time
port, report = int(sys.argv[1]), sys.argv[2]
streams, idle = [], []
for _ in range(300):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET /__careplans/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    streams.append(s)
for _ in range(3000):
    idle.append(socket.create_connection(("127.0.0.1", port)))
opened = time.time()
time.sleep(40)
def closed(s):
    s.setblocking(False)
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
with open(report, "w") as out:
    out.write(f"after {time.time() - opened:.0f} s: {sum(map(closed, idle))} of {len(idle)} idle connections closed by the server, "
              f"{len(streams) - sum(map(closed, streams))} of {len(streams)} event streams open\n")
PY
holder=$!
sleep 3
load "with 300 event streams and 3,000 idle connections held open"
wait "$holder" || true
holder=""
cat "$report"
rm -f "$report"
