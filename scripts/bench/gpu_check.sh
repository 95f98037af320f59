#!/usr/bin/env bash
# First checks of kre on an NVIDIA GPU, in one short run, for a GPU machine that has no Rust toolchain (build the two
# binaries elsewhere and copy them; see scripts/bench/README.md, "GPU checks"):
#
#   bash scripts/bench/gpu_check.sh [--inputs DIR] [--results DIR] [--budget S] [--skip-tiny] [--skip-epoch]
#                                   [--epoch-records N] [--epoch-arg ARG]…
#
# 1. environment: nvidia-smi, torch, the CUDA libraries kre's loader path finds (env.txt);
# 2. training parity on CUDA f32: the `cuda` tests of re-train's test binary (INPUTS/re-train-it[.xz]): the five
#    PyTorch + transformers fixture cases of tests/it/training_parity.rs (20 steps, resume, dev logits, KLUE
#    scores) and how the f32 matmul rounds (parity.log, one summary line per case);
# 3. the main job's kind of run on CUDA: `kre train` with its defaults (tiny encoder, shipped synthetic set, 3 epochs,
#    --test → submission)
#    in f32 and bf16, and `kre predict --device cuda` of the f32 run's best/ (tiny-*.log, tiny-*-metrics.jsonl);
# 4. one bf16 training epoch, kre against PyTorch on the same GPU (gpu_epoch.sh, --records N; epoch/); --epoch-arg
#    passes an argument on to gpu_epoch.sh (`--epoch-arg --epochs --epoch-arg 2`: the second epoch runs on kernels
#    already compiled).
# Each step has its own time limit inside --budget (default 420 s), so the script ends inside a job's limit.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
START_S=$SECONDS
INPUTS="$ROOT/gpu-inputs"
RESULTS="$ROOT/target/bench-results/gpu-check"
BUDGET=420
EPOCH_RECORDS=8000
SKIP_EPOCH=0
SKIP_TINY=0
EPOCH_ARGS=()
PY=python3
while [[ $# -gt 0 ]]; do
    case "$1" in
        --inputs) INPUTS="$2"; shift 2 ;;
        --results) RESULTS="$2"; shift 2 ;;
        --budget) BUDGET="$2"; shift 2 ;;
        --epoch-records) EPOCH_RECORDS="$2"; shift 2 ;;
        --skip-epoch) SKIP_EPOCH=1; shift ;;
        --skip-tiny) SKIP_TINY=1; shift ;;
        --epoch-arg) EPOCH_ARGS+=("$2"); shift 2 ;;
        --python) PY="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
mkdir -p "$RESULTS"
RESULTS="$(cd "$RESULTS" && pwd)"
INPUTS="$(cd "$INPUTS" && pwd)" || { echo "gpu_check.sh: no inputs folder $INPUTS" >&2; exit 2; }
WORK="$(mktemp -d /tmp/kre-gpu-check.XXXXXX)"
say() { printf '[gpu_check %4ds] %s\n' "$((SECONDS - START_S))" "$*" | tee -a "$RESULTS/summary.txt" >&2; }
left() { echo $((BUDGET - (SECONDS - START_S))); }
# Seconds for a step: its share, but never past the budget (minus a margin for what follows).
limit() { local own=$1 reserve=$2 l; l=$(( $(left) - reserve )); [[ $l -lt $own ]] && own=$l; [[ $own -lt 5 ]] && own=5; echo "$own"; }

unpack() {  # INPUTS/NAME[.xz|.gz] → WORK/NAME
    local name=$1
    for c in "$INPUTS/$name" "$INPUTS/$name.xz" "$INPUTS/$name.gz"; do
        [[ -f "$c" ]] || continue
        case "$c" in
            *.xz) xz -dc "$c" >"$WORK/$name" ;;
            *.gz) gzip -dc "$c" >"$WORK/$name" ;;
            *) cp "$c" "$WORK/$name" ;;
        esac
        chmod +x "$WORK/$name"
        echo "$WORK/$name"
        return 0
    done
    return 1
}
KRE="$(unpack kre-cuda)" || { echo "gpu_check.sh: no kre-cuda in $INPUTS" >&2; exit 2; }
TESTS="$(unpack re-train-it)" || TESTS=""

source "$ROOT/scripts/bench/cuda_libs.sh"
kre_cuda_ld_path cuda "$PY" "$INPUTS" "$WORK"
kre() { env LD_LIBRARY_PATH="$KRE_LD_PATH" "$KRE" "$@"; }

# ------------------------------------------------------------------ 1. environment
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ); host: $(uname -srm); $(nproc) cpus"
    echo "repo: $ROOT ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
    echo "kre: $(kre --version 2>&1 | head -1)"
    echo "LD_LIBRARY_PATH for kre: $KRE_LD_PATH"
    ls -la "$WORK/cudalinks" 2>/dev/null
    "$PY" -c 'import torch, transformers as t; print("torch", torch.__version__, "cuda", torch.version.cuda,
"| transformers", t.__version__, "|", torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU")' 2>&1
    nvidia-smi 2>&1
    echo "ldd kre:"; env LD_LIBRARY_PATH="$KRE_LD_PATH" ldd "$KRE" 2>&1 | grep -v '^\s*linux-vdso'
} >"$RESULTS/env.txt" 2>&1
say "environment: $(grep -m1 -o 'NVIDIA [A-Z0-9]*[^|]*' "$RESULTS/env.txt" | head -1 | tr -s ' ')"

# ------------------------------------------------------------------ 2. training parity on CUDA f32
if [[ -n "$TESTS" ]]; then
    say "training parity on CUDA"
    lim="$(limit 240 $(( (1 - SKIP_TINY) * 100 + (1 - SKIP_EPOCH) * 120 )))"
    timeout -k 5 "$lim" env LD_LIBRARY_PATH="$KRE_LD_PATH" KRE_REPO_ROOT="$ROOT" "$TESTS" --ignored --test-threads 1 --nocapture cuda \
        >"$RESULTS/parity.log" 2>&1
    rc=$?
    grep -aE '^(cuda f32 matmul|[a-z0-9_]+ \[cuda)|^test |panicked|test result' "$RESULTS/parity.log" \
        | tee -a "$RESULTS/summary.txt" >&2
    say "parity exit status $rc (limit $lim s)"
else
    say "no re-train-it test binary in $INPUTS: parity skipped"
fi

# ------------------------------------------------------------------ 3. kre train / predict on CUDA
tiny() {  # tiny NAME LIMIT ARGS…
    local name=$1 lim=$2
    shift 2
    local run="$WORK/tiny-$name" t0=$SECONDS
    timeout -k 5 "$lim" env LD_LIBRARY_PATH="$KRE_LD_PATH" "$KRE" train --out "$run" \
        --test datasets/synthetic-klue-re/test.json --seed 42 "$@" >"$RESULTS/tiny-$name.log" 2>&1
    local rc=$?
    [[ -f "$run/metrics.jsonl" ]] && cp "$run/metrics.jsonl" "$RESULTS/tiny-$name-metrics.jsonl"
    say "kre train tiny $name ($*): exit $rc, $((SECONDS - t0)) s; last epoch: $(tail -1 "$run/metrics.jsonl" 2>/dev/null)"
}
if [[ $SKIP_TINY == 0 ]]; then
    tiny cuda-f32 "$(limit 90 $(( 40 + (1 - SKIP_EPOCH) * 120 )))" --device cuda
    tiny cuda-bf16 "$(limit 60 $(( 20 + (1 - SKIP_EPOCH) * 120 )))" --device cuda --precision bf16
fi
if [[ -d "$WORK/tiny-cuda-f32/best" ]]; then
    t0=$SECONDS
    timeout -k 5 "$(limit 30 $(( (1 - SKIP_EPOCH) * 90 )))" env LD_LIBRARY_PATH="$KRE_LD_PATH" "$KRE" predict \
        --model-dir "$WORK/tiny-cuda-f32/best" --data datasets/synthetic-klue-re/test.json \
        --out "$WORK/predict-cuda.csv" --device cuda >"$RESULTS/predict-cuda.log" 2>&1
    rc=$?
    same="$("$PY" - "$WORK/predict-cuda.csv" "$WORK/tiny-cuda-f32/submission.csv" <<'EOF' 2>&1
import csv, sys
a, b = (list(csv.DictReader(open(p, encoding="utf-8"))) for p in sys.argv[1:3])
same = sum(x["pred_label"] == y["pred_label"] for x, y in zip(a, b))
dp = max(max(abs(u - v) for u, v in zip(eval(x["probs"]), eval(y["probs"]))) for x, y in zip(a, b))
print(f"{same}/{len(a)} labels equal to the training run's submission, max |Δprob| {dp:.2e}")
EOF
)"
    say "kre predict --device cuda: exit $rc, $((SECONDS - t0)) s; $same"
fi

# ------------------------------------------------------------------ 4. one bf16 epoch, kre vs PyTorch
if [[ $SKIP_EPOCH == 0 ]]; then
    lim="$(limit 300 10)"
    say "gpu_epoch.sh --precision bf16 --records $EPOCH_RECORDS (budget $lim s)"
    bash scripts/bench/gpu_epoch.sh --kre "$KRE" --inputs "$INPUTS" --results "$RESULTS/epoch" --work "$WORK/epoch" \
        --records "$EPOCH_RECORDS" --budget "$lim" --python "$PY" ${EPOCH_ARGS[@]+"${EPOCH_ARGS[@]}"} \
        >"$RESULTS/epoch.log" 2>&1
    say "gpu_epoch.sh exit $?"
    cat "$RESULTS/epoch/table.md" 2>/dev/null | tee -a "$RESULTS/summary.txt" >&2
fi
say "done; results in $RESULTS"
rm -rf "$WORK"
