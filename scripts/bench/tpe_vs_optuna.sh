#!/usr/bin/env bash
# kre's TPE sampler vs Optuna's TPESampler (and random sampling) on cheap objectives: median best value after
# 25/50/100 trials over SEEDS seeds. Results and the markdown table go to OUT (default target/bench-results/tpe).
#
#   bash scripts/bench/tpe_vs_optuna.sh [SEEDS [TRIALS [OUT]]]      # defaults 20 100 target/bench-results/tpe
#
# Makes .venv-optuna (gitignored) with optuna from PyPI on first use; set PYTHON to use another interpreter that
# has optuna. The kre side is examples/tpe_bench.rs, the Optuna side scripts/bench/tpe_vs_optuna.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
SEEDS=${1:-20}
TRIALS=${2:-100}
OUT=${3:-target/bench-results/tpe}
mkdir -p "$OUT"

if [ -z "${PYTHON:-}" ]; then
    if [ ! -x .venv-optuna/bin/python ]; then
        python3 -m venv .venv-optuna
        .venv-optuna/bin/pip install -q optuna
    fi
    PYTHON=.venv-optuna/bin/python
fi

cargo run --quiet --example tpe_bench -- --seeds "$SEEDS" --trials "$TRIALS" --out "$OUT/kre.jsonl"
"$PYTHON" scripts/bench/tpe_vs_optuna.py run --seeds "$SEEDS" --trials "$TRIALS" --out "$OUT/optuna.jsonl"
"$PYTHON" scripts/bench/tpe_vs_optuna.py table "$OUT/kre.jsonl" "$OUT/optuna.jsonl" | tee "$OUT/table.md"
