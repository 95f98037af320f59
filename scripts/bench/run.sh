#!/usr/bin/env bash
# Side-by-side performance run: PyTorch (scripts/bench/torch_rows.py) vs kre (examples/perf_rows.rs), same weights,
# inputs and thread count, then one markdown table (scripts/bench/compare.py). See scripts/bench/README.md.
#
#   bash scripts/bench/run.sh [--backends ndarray,flex,candle,ndarray+openblas] [--threads 2] [--reps 5]
#                             [--rows ROW,ROW] [--skip-setup] [--skip-torch] [--out DIR]
#
# A backend `NAME` runs `cargo run --release --example perf_rows --features NAME -- --backend NAME` (no feature for
# ndarray, fused (the fused inference engine of re_models::fused, also spelled `engine`) and fused-int8 (the same
# engine with int8 projections, re_models::int8), fused-w8a16 (int8 projections, activations in two 8-bit passes)); `NAME+FEAT` adds cargo
# feature FEAT (e.g. ndarray+openblas, which needs a system OpenBLAS).
# Results: DIR (default target/bench-results/) holds pytorch.json, kre-<backend>.json, table.md and the logs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

backends="ndarray"
threads=2
reps=5
rows=""
skip_setup=0
skip_torch=0
out="$root/target/bench-results"
while [ $# -gt 0 ]; do
  case "$1" in
    --backends) backends="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --rows) rows="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --skip-setup) skip_setup=1; shift ;;
    --skip-torch) skip_torch=1; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
venv="${BENCH_VENV:-$root/.venv-bench}"
row_args=()
[ -n "$rows" ] && row_args=(--rows "$rows")

# The same thread count everywhere (the Python script sets these itself too; this covers the Rust side's BLAS).
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
export RAYON_NUM_THREADS="$threads" RAYON_RS_NUM_CPUS="$threads" TOKENIZERS_PARALLELISM=true

if [ "$skip_setup" = 0 ]; then
  bash "$here/setup.sh"
fi

if [ "$skip_torch" = 0 ]; then
  echo "== PyTorch rows (threads $threads)"
  "$venv/bin/python" "$here/torch_rows.py" --threads "$threads" --reps "$reps" "${row_args[@]}" \
    --out "$out/pytorch.json" 2> >(tee "$out/pytorch.log" >&2)
fi

# ONNX Runtime fp32 and int8 columns for the encoder rows asked for (ort_rows.py), unless --skip-torch.
ort_rows="$(tr ',' '\n' <<<"${rows:-encoder_minilm_b32_s128,encoder_roberta_base_b32_s128}" | { grep '^encoder_' || true; } | paste -sd, -)"
if [ "$skip_torch" = 0 ] && [ -n "$ort_rows" ]; then
  echo "== ONNX Runtime rows (threads $threads)"
  "$venv/bin/python" "$here/ort_rows.py" --threads "$threads" --reps "$reps" --rows "$ort_rows" \
    --out-dir "$out" 2> >(tee "$out/ort.log" >&2)
fi

kre_files=()
IFS=',' read -r -a list <<<"$backends"
for spec in "${list[@]}"; do
  backend="${spec%%+*}"
  features=()
  case "$backend" in ndarray | fused | fused-int8 | fused-w8a16 | engine) ;; *) features+=("$backend") ;; esac
  if [ "$spec" != "$backend" ]; then
    IFS='+' read -r -a extra <<<"${spec#*+}"
    features+=("${extra[@]}")
  fi
  feature_args=()
  [ "${#features[@]}" -gt 0 ] && feature_args=(--features "$(IFS=,; echo "${features[*]}")")
  name="kre-${spec//+/-}"
  echo "== kre rows: $spec (threads $threads)"
  cargo build --release --example perf_rows "${feature_args[@]}"
  cargo run --quiet --release --example perf_rows "${feature_args[@]}" -- --backend "$backend" \
    --threads "$threads" --reps "$reps" "${row_args[@]}" --out "$out/$name.json" 2> >(tee "$out/$name.log" >&2)
  kre_files+=("$out/$name.json")
done

inputs=()
[ -f "$out/pytorch.json" ] && inputs+=("$out/pytorch.json")
inputs+=("${kre_files[@]}")
for f in "$out/ort-fp32.json" "$out/ort-int8.json"; do
  [ -f "$f" ] && inputs+=("$f")
done
python3 "$here/compare.py" "${inputs[@]}" | tee "$out/table.md"
echo "results in $out (table.md, *.json, *.log)"
