#!/usr/bin/env bash
# Mutated copies of the bundled records through check and build, many more cases than CI runs
# (tests/fuzz.rs): prints how many it tried and how many failed or panicked; exit 1 on any.
#   bash benches/fuzz-records.sh            # 10,000 cases from seed 1
#   bash benches/fuzz-records.sh 50000 7    # 50,000 cases from seed 7
set -euo pipefail
cd "$(dirname "$0")/.."
CAREPLANS_FUZZ_CASES="${1:-10000}" CAREPLANS_FUZZ_SEED="${2:-1}" \
    cargo test --release --quiet --test fuzz mutated_records -- --nocapture 2>&1 |
    grep -E "^fuzz:|^seed|panicked|test result"
