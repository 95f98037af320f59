#!/usr/bin/env bash
# `kre predict` end to end vs the same job in Python (HF tokenizer + transformers model + pandas), side by side on
# the same cores: records/s of the whole process (start, model load, read → mark → tokenize → batches sorted by
# length → encoder → softmax → submission.csv, exit) and of the part after the model is loaded.
#
#   bash scripts/bench/predict_e2e.sh [minilm] [base]      (default: minilm)
#
# Data: `kre synth --n N --seed 1 --dev-ratio 0 --test-ratio 0` (N = 7,765, KLUE-RE's dev size; all records land in
# train.json). Models: minilm = all-MiniLM-L6-v2 (scripts/install-minilm.sh); base = a roberta-base-size encoder
# (`--model tiny` with 768 hidden, 12 layers, 12 heads, 3072 intermediate). Each is one short `kre train` run on
# a few dozen records of the shipped synthetic set (weights do not matter for speed), kre's defaults written out:
# typed-punct markers, entity-start pooling, max_length 128. The Python side (predict_e2e.py) loads a transformers
# checkpoint holding the run's own weights (converted once from kre's model.mpk by `predict_e2e.py prepare`,
# untimed; so the two submission.csv files must agree, which the script checks) and the run's tokenizer.json
# through AutoTokenizer, and does what `kre predict` does, with kre's batch size.
# Per size: one untimed warm-up run of each side on the first 256 records, then REPS timed runs, kre and Python
# taking turns. Each process is stopped after MAX_SECONDS. Results: $OUT/results.jsonl (one line per
# size/side/run, appended) and the table on stdout (also $OUT/table-DATE.md).
# Run time on the project's 2-core VM: minilm about 15 minutes with REPS=3 (per run: kre about 70 s, Python about
# 155 s); base about 20 minutes with REPS=1 (measured 2026-12-03: kre 222 s, Python 461 s per run), about 1 hour with 3.
# Env: THREADS (2, both sides), REPS (3), N (7765), BATCH_SIZE (64, kre predict's default), MAX_SECONDS (3600 per
# process), CORES (taskset list for both sides, default: all), ENGINE (fused: kre's CPU default; or burn),
# OUT (runs/predict_e2e), KRE_BIN (prebuilt kre; else `cargo build --release -p re-cli --bin kre`),
# PREDICT_VENV (.venv-predict, made on top of .venv-torch's packages when that exists; pandas and msgpack, to
# read model.mpk, from PyPI).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$root/scripts/kre-cache.sh"
out="${OUT:-$root/runs/predict_e2e}"
threads="${THREADS:-2}"
reps="${REPS:-3}"
n="${N:-7765}"
batch="${BATCH_SIZE:-64}"
max_seconds="${MAX_SECONDS:-3600}"
engine="${ENGINE:-fused}"
max_length=128
sizes=("$@")
[ "${#sizes[@]}" -gt 0 ] || sizes=(minilm)
for size in "${sizes[@]}"; do
  case "$size" in minilm|base) ;; *) echo "unknown size $size (minilm, base)" >&2; exit 2 ;; esac
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
pin=()
[ -n "${CORES:-}" ] && pin=(taskset -c "$CORES")

# ------------------------------------------------------------------ the kre binary and the Python venv
if [ -z "${KRE_BIN:-}" ]; then
  (cd "$root" && cargo build --release -p re-cli --bin kre)
  KRE_BIN="${CARGO_TARGET_DIR:-$root/target}/release/kre"
fi
venv="${PREDICT_VENV:-$root/.venv-predict}"
. "$here/venv-on-torch.sh"
venv_on_torch "$root" "$venv" kre-predict-reuse
py="$venv/bin/python"
missing=()
for spec in torch:torch transformers:transformers tokenizers:tokenizers safetensors:safetensors numpy:numpy \
            pandas:pandas msgpack:msgpack; do
  "$py" -c "import ${spec%%:*}" >/dev/null 2>&1 || missing+=("${spec#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing from PyPI into $venv: ${missing[*]}"
  "$py" -m pip install --quiet "${missing[@]}"
fi

# Both sides: the same thread count for every pool (rayon: kre's fused engine and tokenization, HF tokenizers;
# OpenBLAS/OpenMP/MKL; torch also gets torch.set_num_threads in predict_e2e.py).
export OMP_NUM_THREADS="$threads" MKL_NUM_THREADS="$threads" OPENBLAS_NUM_THREADS="$threads"
export NUMEXPR_NUM_THREADS="$threads" RAYON_NUM_THREADS="$threads" RAYON_RS_NUM_CPUS="$threads"
export TOKENIZERS_PARALLELISM=true NO_COLOR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# The Python side marks and tokenizes as kre does: its texts, token ids and truncation windows against kre's fixtures.
"$py" "$here/predict_e2e.py" check

# ------------------------------------------------------------------ data
data="$root/datasets/synthetic-klue-re"
data_dir="$out/data-$n"
records="$data_dir/train.json"
if [ ! -f "$records" ]; then
  rm -rf "$data_dir.partial"
  "$KRE_BIN" synth --n "$n" --seed 1 --dev-ratio 0 --test-ratio 0 --out "$data_dir.partial" >&2
  rm -rf "$data_dir" && mv "$data_dir.partial" "$data_dir"
fi
warmup="$data_dir/warmup-256.json"
small_dev="$out/dev-32.json"
"$py" - "$records" "$n" "$warmup" "$data/dev.json" "$small_dev" <<'PY'
import json, sys
records, n, warmup, dev, small_dev = sys.argv[1:]
rs = json.load(open(records, encoding="utf-8"))
assert len(rs) == int(n), f"{records}: {len(rs)} records, expected {n}"
for src, dst, k in ((rs, warmup, 256), (json.load(open(dev, encoding="utf-8")), small_dev, 32)):
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(src[:k], f, ensure_ascii=False)
PY

# ------------------------------------------------------------------ one short training run per size
train_run() { # size → run dir
  local size="$1" run="$out/run-$size"
  [ -f "$run/best/model_spec.json" ] && { echo "$run"; return; }
  local common=(train --train "$data/train.json" --dev "$small_dev" --epochs 1 --device cpu --out "$run"
                --max-length "$max_length" --markers typed-punct --pooling entity-start --batch-size 16)
  case "$size" in
    minilm)
      bash "$root/scripts/install-minilm.sh" >&2
      "$KRE_BIN" "${common[@]}" --model "$KRE_CACHE/all-minilm-l6-v2" --max-train-records 64 >&2 ;;
    base) "$KRE_BIN" "${common[@]}" --model tiny --tiny-hidden-size 768 --tiny-layers 12 --tiny-heads 12 \
            --tiny-intermediate-size 3072 --max-train-records 32 >&2 ;;
  esac
  echo "$run"
}

# ------------------------------------------------------------------ what ran where
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
raw="$out/raw-$stamp.tsv"
meta="$out/meta-$stamp.json"
: >"$raw"
cpu="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
machine="$(uname -m) ${cpu:-unknown CPU}, $(nproc) cores available${CORES:+ (taskset $CORES)}"
kre_version="$("$KRE_BIN" --version | head -1)"
kre_git="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ] && kre_git="$kre_git+dirty"
"$py" - "$meta" "$n" "$threads" "$batch" "$max_length" "$reps" "$machine" "$kre_version" "$kre_git" "$engine" \
  "$KRE_BIN" <<'PY'
import json, sys, datetime
import numpy, pandas, tokenizers, torch, transformers
meta, n, threads, batch, max_length, reps, machine, kre_version, kre_git, engine, kre_bin = sys.argv[1:]
json.dump({"records": int(n), "threads": int(threads), "batch_size": int(batch), "max_length": int(max_length),
           "reps": int(reps), "machine": machine, "engine": engine, "kre_bin": kre_bin,
           "loadavg_start": " ".join(open("/proc/loadavg").read().split()[:3]),
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "versions": {"kre": kre_version, "kre_git": kre_git, "torch": torch.__version__,
                        "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                        "numpy": numpy.__version__, "pandas": pandas.__version__,
                        "python": sys.version.split()[0]}}, open(meta, "w"), indent=1)
PY
echo "machine: $machine; $(date -u +%F); $threads threads per side; kre: $KRE_BIN ($kre_version, git $kre_git)"
echo "data: $records ($n records); batch $batch; max_length $max_length; engine $engine; $reps runs per side"
case "$KRE_BIN" in */debug/*) echo "WARNING: $KRE_BIN is a debug build: a functional check, not numbers to publish" ;; esac

# ------------------------------------------------------------------ timed runs
kre_cmd() { # run dir, data file, submission → kre=(the kre predict command line). RUST_LOG prints re_train's
  # debug line `model loaded for the … engine in X` (with a time stamp): the load time and the after-load time.
  kre=(env RUST_LOG=re_train=debug "$KRE_BIN" predict --model-dir "$1" --data "$2" --out "$3"
       --batch-size "$batch" --device cpu --engine "$engine")
}
timed() { # size side rep log timing cmd… — one process, wall clock around it; a line in $raw
  local size="$1" side="$2" rep="$3" log="$4" timing="$5"; shift 5
  local start end rc=0
  start="$(date +%s.%N)"
  timeout "$max_seconds" "${pin[@]}" "$@" >"$log" 2>&1 || rc=$?
  end="$(date +%s.%N)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$side" "$rep" "$start" "$end" "$rc" "$log" "$timing" >>"$raw"
  printf '  %-6s %-6s run %s: %6.2f s%s\n' "$size" "$side" "$rep" "$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')" \
    "$([ "$rc" = 0 ] || echo " (exit $rc, see $log)")"
  return 0
}

for size in "${sizes[@]}"; do
  run="$(train_run "$size")"
  pymodel="$out/pymodel-$size"
  if [ ! -f "$pymodel/predict_spec.json" ] || [ "$run/best/model_spec.json" -nt "$pymodel/predict_spec.json" ] ||
     ! grep -q '"weights": "kre"' "$pymodel/predict_spec.json"; then
    "$py" "$here/predict_e2e.py" prepare --run "$run" --out "$pymodel" --threads "$threads"
  fi
  echo
  echo "## $size ($run)"
  # warm-up (page cache, first-time loads): not recorded
  kre_cmd "$run" "$warmup" "$out/warmup-kre.csv"
  "${pin[@]}" "${kre[@]}" >"$out/warmup-kre-$size.log" 2>&1 ||
    { cat "$out/warmup-kre-$size.log"; echo "kre warm-up failed" >&2; exit 1; }
  "${pin[@]}" "$py" "$here/predict_e2e.py" run --model "$pymodel" --data "$warmup" --out "$out/warmup-python.csv" \
    --batch-size "$batch" --threads "$threads" >"$out/warmup-python-$size.log" 2>&1 ||
    { cat "$out/warmup-python-$size.log"; echo "Python warm-up failed" >&2; exit 1; }
  for rep in $(seq 1 "$reps"); do
    kre_cmd "$run" "$records" "$out/submission-kre-$size.csv"
    timed "$size" kre "$rep" "$out/kre-$size-$rep.log" "" "${kre[@]}"
    timed "$size" python "$rep" "$out/python-$size-$rep.log" "$out/timing-python-$size-$rep.json" \
      "$py" "$here/predict_e2e.py" run --model "$pymodel" --data "$records" --out "$out/submission-python-$size.csv" \
      --batch-size "$batch" --threads "$threads" --timing "$out/timing-python-$size-$rep.json"
  done
  # Both submission.csv files: same ids in input order; with the same weights, the same probabilities (within
  # float error: fused f32 kernels vs torch) and labels.
  rm -f "$out/compare-$size.json"
  "$py" "$here/predict_e2e.py" compare --kre "$out/submission-kre-$size.csv" \
    --python "$out/submission-python-$size.csv" --data "$records" --out "$out/compare-$size.json" ||
    echo "  (the submissions could not be compared; see above)"
done

table="$out/table-$stamp.md"
"$py" "$here/predict_e2e.py" report --raw "$raw" --meta "$meta" --out "$out/results.jsonl" | tee "$table"
