#!/usr/bin/env bash
# kre serve vs the Python service a user would deploy (FastAPI + uvicorn + transformers, serve_fastapi.py), side by
# side on the same cores, driven by the same client (crates/re-serve/examples/serve_load.rs). Loopback only; every
# level is bounded in requests (REQUESTS) and time (MAX_SECONDS).
#
#   bash scripts/bench/serve_load.sh [tiny] [minilm] [base]      (default: tiny)
#
# Sizes: tiny = `kre train --model tiny` defaults; minilm = all-MiniLM-L6-v2 (scripts/install-minilm.sh);
# base = a roberta-base-size encoder (`--model tiny` with 768 hidden, 12 layers, 12 heads, 3072 intermediate).
# Weights come from one short training run on the synthetic set (their values do not matter for speed; the
# FastAPI side uses random weights of the same architecture, size and head shape).
# For each size: kre serve (its defaults) and FastAPI at concurrency CONCURRENCY (default 1,8,64) with /v1/predict
# bodies of 1, 1, 2, 4 records; kre alone with every 4th request a /v1/extract text (the mix); both again in int8
# (kre --engine fused-int8, FastAPI with PyTorch dynamic int8 quantization); and kre with a queue of 4
# at concurrency 64 (above the queue limit: 503s expected, none lost). Results: $OUT/results.jsonl and the tables
# on stdout. Env: REQUESTS (400), CONCURRENCY (1,8,64), MAX_SECONDS (120), CORES (taskset list for both servers,
# default: all), OUT (runs/serve_load), KRE_BIN / LOAD_BIN (prebuilt binaries), SERVE_VENV (.venv-serve),
# ROWS (which groups to run, default f32,mix,int8,queue4), INT8_ENGINES (kre's reduced-precision engines for the
# int8 group, default fused-int8; e.g. fused-int8,fused-w8a16: each against the same FastAPI int8 row).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$root/scripts/kre-cache.sh"
out="${OUT:-$root/runs/serve_load}"
requests="${REQUESTS:-400}"
concurrency="${CONCURRENCY:-1,8,64}"
max_seconds="${MAX_SECONDS:-120}"
rows=",${ROWS:-f32,mix,int8,queue4},"
IFS=, read -r -a int8_engines <<<"${INT8_ENGINES:-fused-int8}"
for r in ${rows//,/ }; do
  case "$r" in f32|mix|int8|queue4) ;; *) echo "ROWS: unknown group '$r' (f32, mix, int8, queue4)" >&2; exit 2 ;; esac
done
for e in "${int8_engines[@]}"; do
  case "$e" in fused-int8|fused-w8a16) ;; *) echo "INT8_ENGINES: unknown engine '$e' (fused-int8, fused-w8a16)" >&2; exit 2 ;; esac
done
runs() { [[ "$rows" == *",$1,"* ]]; }
sizes=("$@")
[ "${#sizes[@]}" -gt 0 ] || sizes=(tiny)
mkdir -p "$out"
pin=()
[ -n "${CORES:-}" ] && pin=(taskset -c "$CORES")

# ------------------------------------------------------------------ binaries and the Python venv
if [ -z "${KRE_BIN:-}" ] || [ -z "${LOAD_BIN:-}" ]; then
  (cd "$root" && cargo build --release -p re-cli --bin kre && cargo build --release -p re-serve --example serve_load)
  target="${CARGO_TARGET_DIR:-$root/target}"
  KRE_BIN="${KRE_BIN:-$target/release/kre}"
  LOAD_BIN="${LOAD_BIN:-$target/release/examples/serve_load}"
fi
venv="${SERVE_VENV:-$root/.venv-serve}"
. "$here/venv-on-torch.sh"
venv_on_torch "$root" "$venv" kre-serve-reuse
"$venv/bin/python" -c "import fastapi, uvicorn, torch, transformers, tokenizers" 2>/dev/null ||
  "$venv/bin/python" -m pip install --quiet fastapi uvicorn torch transformers tokenizers

data="$root/datasets/synthetic-klue-re"
records="$data/test.json"
results="$out/results.jsonl"

# ------------------------------------------------------------------ helpers
server_pid=""
start_server() { # log, then the command; sets server_pid and addr (from the "listening on http://…" line)
  local log="$1"; shift
  "${pin[@]}" "$@" >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    addr="$(sed -n 's#^listening on http://##p' "$log" | head -1)"
    if [ -n "$addr" ]; then
      # FastAPI prints before uvicorn binds: wait until it answers
      for _ in $(seq 1 300); do
        curl -sf "http://$addr/healthz" >/dev/null && return 0
        sleep 0.1
      done
    fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$log"; echo "server exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "server did not start in 60 s" >&2; cat "$log"; exit 1
}
stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  local rc=0
  wait "$server_pid" || rc=$?
  echo "  (server stopped, exit $rc)"
}
load() { # name, extra args
  local name="$1"; shift
  "$LOAD_BIN" --url "http://$addr" --records "$records" --requests "$requests" --max-seconds "$max_seconds" \
    --name "$name" --out "$results" "$@"
}

train_run() { # size → run dir
  local size="$1" run="$out/run-$size"
  [ -f "$run/best/model_spec.json" ] && { echo "$run"; return; }
  local common=(train --train "$data/train.json" --dev "$data/dev.json" --epochs 1 --device cpu --out "$run")
  case "$size" in
    tiny) "$KRE_BIN" "${common[@]}" --model tiny --max-train-records 400 >&2 ;;
    minilm)
      bash "$root/scripts/install-minilm.sh" >&2
      "$KRE_BIN" "${common[@]}" --model "$KRE_CACHE/all-minilm-l6-v2" --max-train-records 64 --batch-size 16 >&2 ;;
    base) "$KRE_BIN" "${common[@]}" --model tiny --tiny-hidden-size 768 --tiny-layers 12 --tiny-heads 12 \
            --tiny-intermediate-size 3072 --max-train-records 32 --batch-size 16 >&2 ;;
    *) echo "unknown size $size (tiny, minilm, base)" >&2; exit 2 ;;
  esac
  echo "$run"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
echo "cores for the servers: ${CORES:-all}; requests per level: $requests; the client runs on the same machine"
for size in "${sizes[@]}"; do
  run="$(train_run "$size")"
  echo
  echo "## $size ($run)"
  if runs f32 || runs mix; then
    start_server "$out/kre-$size.log" "$KRE_BIN" serve --model-dir "$run" --addr 127.0.0.1:0
    runs f32 && load "kre-$size" --concurrency "$concurrency"
    runs mix && load "kre-$size-mix" --concurrency 8 --texts-every 4
    stop_server
  fi
  if runs f32; then
    start_server "$out/fastapi-$size.log" "$venv/bin/python" "$here/serve_fastapi.py" --model-dir "$run" --port 18090
    load "fastapi-$size" --concurrency "$concurrency"
    stop_server
  fi
  if runs int8; then
    # int8 on both sides: kre's reduced-precision engines, PyTorch's dynamic int8 quantization.
    for engine in "${int8_engines[@]}"; do
      name="kre-$size-${engine#fused-}" # kre-tiny-int8, kre-tiny-w8a16
      start_server "$out/$name.log" "$KRE_BIN" serve --model-dir "$run" --addr 127.0.0.1:0 --engine "$engine"
      load "$name" --concurrency "$concurrency"
      stop_server
    done
    start_server "$out/fastapi-$size-int8.log" "$venv/bin/python" "$here/serve_fastapi.py" --model-dir "$run" \
      --port 18090 --int8
    load "fastapi-$size-int8" --concurrency "$concurrency"
    stop_server
  fi
  if runs queue4; then
    # Above the queue limit: a queue of 4 at concurrency 64 answers some 503s and loses nothing.
    start_server "$out/kre-$size-queue4.log" "$KRE_BIN" serve --model-dir "$run" --addr 127.0.0.1:0 \
      --queue-capacity 4
    load "kre-$size-queue4" --concurrency 64
    stop_server
  fi
done
echo
echo "results: $results"
