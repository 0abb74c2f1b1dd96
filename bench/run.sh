#!/usr/bin/env bash
# The checkpoint benchmarks (not part of the tests): see bench/bench.py and bench/lazy.py (lazy restore). As root, after scripts/setup.sh.
#   BENCH_MIB=1024 BENCH_REPS=5 bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/env.sh
python3 bench/bench.py
python3 bench/chart.py
python3 bench/lazy.py
