#!/usr/bin/env bash
# `careplans import` against DuckDB and pandas doing the same aggregation on the same Parquet
# files, in one run (not a timed test). Prepares the extracts with `careplans synth` (kept under
# target/bench-data, so a second run skips that), installs the peers' pinned Python packages in
# a virtual environment, runs each engine RUNS times per size and prints a Markdown table of
# median wall time, median peak memory (max RSS), the ratio to DuckDB and the ratio to a bare
# scan (benches/peers/bare_scan.py: every value of every column read and its length summed, in
# DuckDB and in polars; the faster of the two is the floor). Every engine's published files are
# compared byte for byte with careplans' before a figure counts.
# Needs about 2 GB of disk for the extracts and, the first time, 10 minutes to write them.
# CAREPLANS=path/to/careplans uses that binary instead of building target/release/careplans.
#   bash benches/import-peers.sh                 # 1M plans / 10M events (as synth orders the
#                                                # events, then in time order) and 10M / 100M
#   SIZES="1000000:10000000 1000000:10000000:time" RUNS=5 bash benches/import-peers.sh
#   CAREPLANS=/usr/local/bin/careplans RUNS=1 bash benches/import-peers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
sizes="${SIZES:-1000000:10000000 1000000:10000000:time 10000000:100000000}"
runs="${RUNS:-3}"
data="$root/target/bench-data"
venv="$root/target/peers-venv"
mkdir -p "$data"

if [ -z "${CAREPLANS:-}" ]; then
    cargo build --release --quiet
fi
careplans="${CAREPLANS:-$root/target/release/careplans}"
if [ ! -x "$careplans" ]; then
    echo "$careplans is not an executable careplans" >&2
    exit 1
fi
# A virtual environment made from other pins is brought up to these.
if [ ! -x "$venv/bin/python" ] || ! cmp -s benches/peers/requirements.txt "$venv/requirements.txt"; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r benches/peers/requirements.txt
    cp benches/peers/requirements.txt "$venv/requirements.txt"
fi
python="$venv/bin/python"
# The peers do not do secondary suppression (it adds well under 0.1 s to an import), so
# careplans runs in a copy of the workspace with it forced off, whatever careplans.toml says
# (the bundled one has it off): all three publish the same files.
workspace="$data/workspace"
rm -rf "$workspace"
mkdir -p "$workspace"
cp -r records records-schema "$workspace/"
sed -E 's/^([[:space:]]*secondary_suppression[[:space:]]*=).*/\1 false/' careplans.toml >"$workspace/careplans.toml"
if ! grep -Eq '^[[:space:]]*secondary_suppression[[:space:]]*=[[:space:]]*false$' "$workspace/careplans.toml"; then
    sed -i '/^\[disclosure\]/a secondary_suppression = false' "$workspace/careplans.toml"
fi
# An extract kept from an earlier run is used only if its plans have the columns this
# careplans writes (the extract's contract changes now and then).
header_probe="$(mktemp -d)"
"$careplans" --repo "$workspace" synth --out "$header_probe" --plans 10 --events 10 >/dev/null
plans_header="$(head -n 1 "$header_probe/plans.csv")"
rm -rf "$header_probe"
current_extract() {
    "$python" - "$1/plans.parquet" "$plans_header" <<'EOF'
import sys
import pyarrow.parquet
sys.exit(",".join(pyarrow.parquet.read_schema(sys.argv[1]).names) != sys.argv[2])
EOF
}
time_cmd=/usr/bin/time
if [ ! -x "$time_cmd" ]; then
    if [ "$(id -u)" = "0" ]; then apt-get install -y -qq time >/dev/null; else echo "install GNU time first" >&2; exit 1; fi
fi

# Runs one engine once: prints "seconds max_rss_kb" and leaves its files in $2.
measure() {
    local engine="$1" out="$2" extract="$3" stats
    rm -rf "$out"
    stats="$(mktemp)"
    case "$engine" in
        careplans) "$time_cmd" -f "%e %M" -o "$stats" "$careplans" --repo "$workspace" import "$extract" --all --out "$out" 2>/dev/null ;;
        duckdb | pandas)
            "$time_cmd" -f "%e %M" -o "$stats" "$python" "benches/peers/aggregate_$engine.py" \
                "$extract" records/areas.yaml records/templates "$out" 2>/dev/null ;;
        scan-duckdb | scan-polars)
            mkdir -p "$out"
            "$time_cmd" -f "%e %M" -o "$stats" "$python" benches/peers/bare_scan.py \
                "${engine#scan-}" "$extract" >"$out/total" 2>/dev/null ;;
    esac
    tail -n 1 "$stats"
    rm -f "$stats"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "| Extract (Parquet) | Engine | Wall time (median of $runs) | Peak memory | Time vs DuckDB | Time vs bare scan |"
echo "|---|---|---|---|---|---|"
for size in $sizes; do
    IFS=: read -r plans events order <<<"$size"
    extract="$data/$plans-$events"
    if [ ! -f "$extract/events.parquet" ] || ! current_extract "$extract"; then
        rm -rf "$extract"
        "$careplans" --repo "$workspace" synth --out "$extract" --format parquet --plans "$plans" --events "$events" >&2
    fi
    # synth lists each plan's events together, in the plans' order; an audit log read as it
    # was written lists them in time order. `PLANS:EVENTS:time` runs the same extract with its
    # events sorted by time (by DuckDB), so that no engine is helped by the plans' order.
    if [ "$order" = time ]; then
        sorted="$extract-by-time"
        if [ ! -f "$sorted/events.parquet" ] || [ "$sorted/events.parquet" -ot "$extract/events.parquet" ]; then
            rm -rf "$sorted"
            mkdir -p "$sorted"
            cp "$extract/plans.parquet" "$sorted/"
            "$python" - "$extract/events.parquet" "$sorted/events.parquet" <<'EOF'
import sys
import duckdb
source, target = (path.replace("'", "''") for path in sys.argv[1:3])
duckdb.sql(
    f"COPY (SELECT * FROM read_parquet('{source}') ORDER BY timestamp, plan_id) "
    f"TO '{target}' (FORMAT parquet, COMPRESSION zstd)"
)
EOF
        fi
        extract="$sorted"
    fi
    declare -A wall=() memory=()
    for engine in careplans duckdb pandas scan-duckdb scan-polars; do
        times=()
        rss=()
        for _ in $(seq 1 "$runs"); do
            read -r seconds kb < <(measure "$engine" "$data/out-$engine" "$extract")
            times+=("$seconds")
            rss+=("$kb")
        done
        if [ "$engine" = scan-polars ] && ! diff -q "$data/out-scan-duckdb/total" "$data/out-scan-polars/total" >/dev/null; then
            echo "the bare scans read different values from $extract" >&2
            exit 1
        fi
        if [ "${engine#scan-}" = "$engine" ] && [ "$engine" != careplans ] && ! diff -rq "$data/out-careplans" "$data/out-$engine" >/dev/null; then
            echo "$engine published different figures from careplans on $extract" >&2
            exit 1
        fi
        wall[$engine]="$(printf '%s\n' "${times[@]}" | median)"
        memory[$engine]="$(printf '%s\n' "${rss[@]}" | median)"
    done
    floor="$(printf '%s\n' "${wall[scan-duckdb]}" "${wall[scan-polars]}" | sort -g | head -n 1)"
    for engine in careplans duckdb pandas scan-duckdb scan-polars; do
        case "$engine" in
            scan-duckdb) label="bare scan (DuckDB)" ;;
            scan-polars) label="bare scan (polars)" ;;
            *) label="$engine" ;;
        esac
        awk -v p="$plans" -v e="$events" -v engine="$label" -v t="${wall[$engine]}" \
            -v m="${memory[$engine]}" -v d="${wall[duckdb]}" -v f="$floor" \
            -v o="${order:+, events in time order}" 'BEGIN {
                printf "| %.0fM plans / %.0fM events%s | %s | %.2f s | %.2f GB | %.2fx | %.2fx |\n",
                    p / 1e6, e / 1e6, o, engine, t, m / 1048576, t / d, t / f }'
    done
    unset wall memory
done
