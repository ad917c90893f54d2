#!/usr/bin/env bash
# deploy/spark/counts.py against `careplans import`: a small synthetic extract (careplans synth,
# Parquet) is imported directly; the same extract partitioned as a cluster holds it (careplans
# synth --partitioned, same seed) is imported directly too, and counted by the Spark job in local
# mode and its counts.csv imported; the three sets of published files must be byte-identical.
#   bash tests/spark/check_spark.sh [CAREPLANS]     # default: target/debug/careplans
# Installs tests/spark/requirements.txt into target/spark-venv (again whenever that file
# changes) and, as root where Java 17 or later is missing, Debian's OpenJDK; without root and
# without Java it is skipped with a message, except in CI, where it is required.
# SPARK_CHECK_PLANS and SPARK_CHECK_EVENTS size the extract (default 3000 and 30000).
set -euo pipefail
cd "$(dirname "$0")/../.."
careplans="${1:-${CARGO_TARGET_DIR:-target}/debug/careplans}"
plans="${SPARK_CHECK_PLANS:-3000}"
events="${SPARK_CHECK_EVENTS:-30000}"
echo "--- spark check"

# Spark 4 runs on Java 17 or 21.
java_major() {
    "$1" -version 2>&1 |
        awk -F '"' '/version/ { split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit }'
}
java_ok() { command -v "$1" >/dev/null 2>&1 && [ "$(java_major "$1")" -ge 17 ] 2>/dev/null; }
if [ -n "${JAVA_HOME:-}" ] && ! java_ok "$JAVA_HOME/bin/java"; then
    unset JAVA_HOME
fi
if [ -z "${JAVA_HOME:-}" ] && ! java_ok java; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null ||
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-21-jre-headless >/dev/null
    elif [ -n "${CI:-}" ]; then
        echo "Java 17 or later is required in CI and cannot be installed without root" >&2
        exit 1
    else
        echo "skipping the spark check: install Java 17 or later (Debian: openjdk-17-jre-headless)"
        exit 0
    fi
    # An older java may still be the default one: take the newest runtime installed.
    for home in /usr/lib/jvm/java-21-openjdk-* /usr/lib/jvm/java-17-openjdk-*; do
        if java_ok "$home/bin/java"; then
            export JAVA_HOME="$home"
            break
        fi
    done
fi

venv=target/spark-venv
if ! cmp -s tests/spark/requirements.txt "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/spark/requirements.txt
    cp tests/spark/requirements.txt "$venv/requirements.txt"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Runs a step quietly; shows what it said if it fails.
step() {
    if ! "$@" >"$work/step.log" 2>&1; then
        tail -n 40 "$work/step.log" >&2
        echo "spark: failed: $*" >&2
        exit 1
    fi
}
started="$(date +%s.%N)"
step "$careplans" synth --out "$work/flat" --format parquet --plans "$plans" --events "$events"
step "$careplans" import "$work/flat" --all --out "$work/direct"
step "$careplans" synth --out "$work/partitioned" --partitioned --plans "$plans" --events "$events"
step "$careplans" import "$work/partitioned" --all --out "$work/direct-partitioned"
# Local mode on loopback, with no web UI, few shuffle partitions for a small extract and the
# partition folders listed on the driver rather than by a Spark job.
export SPARK_LOCAL_IP=127.0.0.1 PYSPARK_PYTHON="$venv/bin/python"
step "$venv/bin/spark-submit" \
    --master 'local[2]' \
    --conf spark.ui.enabled=false \
    --conf spark.driver.host=127.0.0.1 \
    --conf spark.driver.bindAddress=127.0.0.1 \
    --conf spark.log.level=WARN \
    --conf spark.sql.shuffle.partitions=2 \
    --conf spark.sql.sources.parallelPartitionDiscovery.threshold=100000 \
    deploy/spark/counts.py "$work/partitioned" records "$work/spark"
step "$careplans" import "$work/spark" --all --out "$work/via-spark"
seconds="$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f", e - s }')"
months="$(find "$work/direct" -name '*.csv' | wc -l)"
if [ "$months" = 0 ] || ! diff -r "$work/direct" "$work/direct-partitioned" >"$work/diff"; then
    head -n 20 "$work/diff" >&2
    echo "spark: careplans import of the partitioned extract differs from the flat one" >&2
    exit 1
fi
if ! diff -r "$work/direct" "$work/via-spark" >"$work/diff"; then
    head -n 20 "$work/diff" >&2
    echo "spark: the published files differ from careplans import of the same extract" >&2
    exit 1
fi
echo "spark: $months months byte-identical in $seconds s"
