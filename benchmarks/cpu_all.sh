#!/usr/bin/env bash
# Every CPU figure of the performance table in one go, one benchmark after another
# (3 to 8 minutes on 2 idle cores); each writes its JSON to results/benchmarks/.
set -euo pipefail
cd "$(dirname "$0")/.."
python benchmarks/bench_core.py --quick
# the scoring ratios again with one torch thread, the thread count a run computes with by default
python benchmarks/bench_core.py --quick --skip-training --skip-cli --threads 1 --output results/benchmarks/core-cpu-threads1.json
python benchmarks/bench_sweep.py
python benchmarks/bench_sweep.py --size tiny --output results/benchmarks/sweep-tiny-cpu.json
python benchmarks/bench_data_pipeline.py
