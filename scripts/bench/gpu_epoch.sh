#!/usr/bin/env bash
# One training epoch on a GPU: kre (burn-cuda) vs PyTorch (transformers, bf16 autocast), same data, model and
# settings, one after the other on the same GPU. Meant for a GPU machine with PyTorch that need not have a Rust
# toolchain or network access: build kre elsewhere with `cargo build --release -p re-cli --features cuda` and copy
# the binary over. See README.md, section "GPU epoch comparison", for building, copying and running.
#
#   bash scripts/bench/gpu_epoch.sh [--kre PATH] [--budget S] [--records N] [--precision bf16|fp32] …
#
# Steps: inputs (data, model, tokenizer) → PyTorch epoch (scripts/bench/torch_train_epoch.py) → kre epoch
# (`kre train … --device cuda --precision bf16`) → one table. nvidia-smi is sampled every second during both runs.
# Results go to target/bench-results/gpu/ (`--results DIR` overrides): table.md, results.json, pytorch.json,
# kre-metrics.jsonl, torch.log, kre.log, smi.csv, env.txt. The kre run directory (checkpoints, GBs) stays in the
# work folder (--work, default /tmp/kre-gpu-epoch), never in the results folder.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: bash scripts/bench/gpu_epoch.sh [options]

  --kre PATH          kre binary built with --features cuda (default ./kre-cuda, else INPUTS/kre-cuda);
                      PATH.xz / PATH.gz are unpacked into the work folder first
  --python PY         Python with torch + transformers (default python3)
  --precision P       bf16 (default; kre bf16, PyTorch autocast bf16) or fp32 (kre f32, PyTorch fp32)
  --device D          cuda (default) | cuda:N | cpu (cpu only for plumbing tests; needs --precision fp32)
  --records N         train on the first N records only (0 = all 32,470; default 0); the table also projects
                      the seconds of a full 32,470-record epoch from the measured samples/s
  --epochs N          default 1
  --data FILE         KLUE-RE JSON; default: INPUTS/synth-32470.json, else $KRE_CACHE/bench/synth-32470.json,
                      else `kre synth --n 32470 --seed 1 --dev-ratio 0 --test-ratio 0` (deterministic)
  --model DIR         HF model dir; default: INPUTS/roberta-base-random, else $KRE_CACHE/bench/roberta-base-random,
                      else made by scripts/bench/make_bench_inputs.py (random roberta-base, seed 0)
  --tokenizer FILE    tokenizer.json for both sides (default crates/re-data/tests/fixtures/encode/korean-wordpiece.json)
  --inputs DIR        folder copied from the build machine: kre-cuda[.xz], lib/ (shared libraries kre links),
                      optionally synth-32470.json and roberta-base-random/ (default gpu-inputs)
  --budget S          wall-clock seconds for the whole script, e.g. a job's time limit (0 = none; default 0).
                      kre, which runs last, is stopped at the budget minus 15 s; its progress bar (through
                      `script`) still gives samples/s
  --kre-timeout S     stop kre after S seconds (0 = none; default 0)
  --torch-timeout S   stop the PyTorch run after S seconds (0 = none; default 0)
  --skip-kre | --skip-torch
  --kre-arg ARG       extra argument for `kre train` (repeatable)
  --torch-arg ARG     extra argument for torch_train_epoch.py (repeatable)
  --work DIR          scratch folder (default /tmp/kre-gpu-epoch)
  --results DIR       results folder (default target/bench-results/gpu)
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
START_S=$SECONDS

KRE=""
PY=python3
PRECISION=bf16
DEVICE=cuda
RECORDS=0
EPOCHS=1
DATA=""
MODEL=""
TOKENIZER="$ROOT/crates/re-data/tests/fixtures/encode/korean-wordpiece.json"
INPUTS="$ROOT/gpu-inputs"
BUDGET=0
KRE_TIMEOUT=0
TORCH_TIMEOUT=0
SKIP_KRE=0
SKIP_TORCH=0
KRE_ARGS=()
TORCH_ARGS=()
WORK="${GPU_EPOCH_WORK:-/tmp/kre-gpu-epoch}"
RESULTS="$ROOT/target/bench-results/gpu"
KRE_CACHE="${KRE_CACHE:-$HOME/.cache/kre}"
export KRE_CACHE

while [[ $# -gt 0 ]]; do
    case "$1" in
        --kre) KRE="$2"; shift 2 ;;
        --python) PY="$2"; shift 2 ;;
        --precision) PRECISION="$2"; shift 2 ;;
        --device) DEVICE="$2"; shift 2 ;;
        --records) RECORDS="$2"; shift 2 ;;
        --epochs) EPOCHS="$2"; shift 2 ;;
        --data) DATA="$2"; shift 2 ;;
        --model) MODEL="$2"; shift 2 ;;
        --tokenizer) TOKENIZER="$2"; shift 2 ;;
        --inputs) INPUTS="$2"; shift 2 ;;
        --budget) BUDGET="$2"; shift 2 ;;
        --kre-timeout) KRE_TIMEOUT="$2"; shift 2 ;;
        --torch-timeout) TORCH_TIMEOUT="$2"; shift 2 ;;
        --skip-kre) SKIP_KRE=1; shift ;;
        --skip-torch) SKIP_TORCH=1; shift ;;
        --kre-arg) KRE_ARGS+=("$2"); shift 2 ;;
        --torch-arg) TORCH_ARGS+=("$2"); shift 2 ;;
        --work) WORK="$2"; shift 2 ;;
        --results) RESULTS="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu_epoch.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
done

case "$PRECISION" in
    bf16) KRE_PRECISION=bf16 ;;
    fp32|f32) PRECISION=fp32; KRE_PRECISION=f32 ;;
    *) echo "gpu_epoch.sh: --precision must be bf16 or fp32" >&2; exit 2 ;;
esac
if [[ "$DEVICE" == cpu && "$PRECISION" != fp32 ]]; then
    echo "gpu_epoch.sh: --device cpu needs --precision fp32" >&2
    exit 2
fi
for n in "$RECORDS" "$EPOCHS" "$BUDGET" "$KRE_TIMEOUT" "$TORCH_TIMEOUT"; do
    [[ "$n" =~ ^[0-9]+$ ]] || { echo "gpu_epoch.sh: not a whole number: $n" >&2; exit 2; }
done

abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$ROOT/$1" ;; esac; }
say() { printf '[gpu_epoch %4ds] %s\n' "$((SECONDS - START_S))" "$*" >&2; }
have() { command -v "$1" >/dev/null 2>&1; }

mkdir -p "$RESULTS" "$WORK"
RESULTS="$(cd "$RESULTS" && pwd)"
WORK="$(cd "$WORK" && pwd)"
INPUTS="$(abspath "$INPUTS")"
TOKENIZER="$(abspath "$TOKENIZER")"
rm -f "$RESULTS"/{table.md,results.json,pytorch.json,kre-metrics.jsonl,torch.log,kre.log,smi.csv,env.txt}
export PYTHONUNBUFFERED=1

# ------------------------------------------------------------------ the kre binary
if [[ -z "$KRE" ]]; then
    KRE=./kre-cuda
    for c in ./kre-cuda ./kre-cuda.xz ./kre-cuda.gz "$INPUTS/kre-cuda" "$INPUTS/kre-cuda.xz" "$INPUTS/kre-cuda.gz"; do
        if [[ -f "$c" ]]; then KRE="$c"; break; fi
    done
fi
KRE="$(abspath "$KRE")"
case "$KRE" in
    *.xz) say "unpacking $KRE"; xz -dc "$KRE" >"$WORK/kre-cuda"; KRE="$WORK/kre-cuda" ;;
    *.gz) say "unpacking $KRE"; gzip -dc "$KRE" >"$WORK/kre-cuda"; KRE="$WORK/kre-cuda" ;;
esac
[[ -f "$KRE" ]] && chmod +x "$KRE" 2>/dev/null || true
if [[ $SKIP_KRE == 0 && ! -x "$KRE" ]]; then
    echo "gpu_epoch.sh: no kre binary at $KRE (build it with --features cuda: scripts/bench/README.md)" >&2
    exit 2
fi

# The loader path for kre (scripts/bench/cuda_libs.sh).
source "$ROOT/scripts/bench/cuda_libs.sh"
kre_cuda_ld_path "$DEVICE" "$PY" "$INPUTS" "$WORK"
kre() { env LD_LIBRARY_PATH="$KRE_LD_PATH" "$KRE" "$@"; }

# ------------------------------------------------------------------ environment
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm); $(nproc) cpus"
    echo "repo: $ROOT ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
    echo "kre: $KRE ($([[ -x "$KRE" ]] && kre --version 2>&1 | head -1 || echo missing))"
    echo "python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])' 2>&1))"
    echo "settings: device $DEVICE, precision $PRECISION (kre $KRE_PRECISION), epochs $EPOCHS," \
        "records ${RECORDS/#0/all}"
    echo "kre's LD_LIBRARY_PATH=$KRE_LD_PATH"
    [[ -d "$WORK/lib" ]] && echo "copied libraries used (missing here): $(ls "$WORK/lib" | tr '\n' ' ')"
    echo
    "$PY" -c 'import torch, transformers as t; c = torch.cuda.is_available()
print("torch", torch.__version__, "cuda", torch.version.cuda, "| transformers", t.__version__,
      "| gpu", torch.cuda.get_device_name() if c else None)' 2>&1 || true
    if have nvidia-smi; then
        echo
        nvidia-smi 2>&1 || true
    fi
    if [[ -x "$KRE" ]]; then
        echo
        echo "ldd $KRE (with kre's LD_LIBRARY_PATH):"
        env LD_LIBRARY_PATH="$KRE_LD_PATH" ldd "$KRE" 2>&1 || true
    fi
    echo
    echo "CUDA libraries the loader can see:"
    (ldconfig -p 2>/dev/null | grep -E 'lib(cuda|nvrtc|nccl)\.so' || true)
    for d in ${KRE_LD_PATH:+${KRE_LD_PATH//:/ }}; do
        ls "$d" 2>/dev/null | grep -E '^lib(nvrtc|nccl|cuda)' | sed "s|^|  $d/|" || true
    done
} >"$RESULTS/env.txt" 2>&1
say "environment written to $RESULTS/env.txt"

# ------------------------------------------------------------------ nvidia-smi sampling
SMI_PID=""
if have nvidia-smi; then
    echo "phase,timestamp,name,memory.used [MiB],memory.total [MiB],utilization.gpu [%]" >"$RESULTS/smi.csv"
fi
smi_sample() {  # one line for phase $1
    have nvidia-smi || return 0
    local line
    line="$(nvidia-smi --query-gpu=timestamp,name,memory.used,memory.total,utilization.gpu \
        --format=csv,noheader,nounits 2>/dev/null | head -1)" || true
    echo "$1,${line:-nvidia-smi failed}" >>"$RESULTS/smi.csv"
}
smi_start() {
    have nvidia-smi || return 0
    ( while :; do smi_sample "$1"; sleep 1; done ) &
    SMI_PID=$!
}
smi_stop() {
    if [[ -n "$SMI_PID" ]]; then
        kill "$SMI_PID" 2>/dev/null || true
        wait "$SMI_PID" 2>/dev/null || true
        SMI_PID=""
    fi
    smi_sample "after-$1"
    if have nvidia-smi; then  # the plain query as well, for a quick look
        { echo "--- after $1: nvidia-smi --query-gpu=name,memory.used --format=csv"
          nvidia-smi --query-gpu=name,memory.used --format=csv 2>&1 || true; } >>"$RESULTS/env.txt"
    fi
}
trap 'smi_stop interrupted >/dev/null 2>&1 || true' EXIT
smi_sample idle

# Seconds a step may run: the smaller of its own limit and what the budget leaves (minus a margin); 0 = none.
limit_for() {
    local own=$1 margin=$2 left
    if [[ $BUDGET -gt 0 ]]; then
        left=$((BUDGET - (SECONDS - START_S) - margin))
        [[ $left -lt 10 ]] && left=10
        if [[ $own -eq 0 || $left -lt $own ]]; then own=$left; fi
    fi
    echo "$own"
}

# ------------------------------------------------------------------ inputs
if [[ -z "$DATA" ]]; then
    for c in "$INPUTS/synth-32470.json" "$KRE_CACHE/bench/synth-32470.json"; do
        if [[ -f "$c" ]]; then DATA="$c"; break; fi
    done
fi
if [[ -z "$DATA" ]]; then
    if [[ ! -x "$KRE" ]]; then
        echo "gpu_epoch.sh: no synth-32470.json and no kre binary to make it (--data FILE)" >&2
        exit 2
    fi
    say "kre synth --n 32470 --seed 1 --dev-ratio 0 --test-ratio 0 --out $WORK/synth"
    rm -rf "$WORK/synth"
    kre synth --n 32470 --seed 1 --dev-ratio 0 --test-ratio 0 --out "$WORK/synth" >&2
    DATA="$WORK/synth/train.json"
fi
DATA="$(abspath "$DATA")"

if [[ -z "$MODEL" ]]; then
    for c in "$INPUTS/roberta-base-random" "$KRE_CACHE/bench/roberta-base-random"; do
        if [[ -f "$c/model.safetensors" && -f "$c/config.json" ]]; then MODEL="$c"; break; fi
    done
fi
if [[ -z "$MODEL" ]]; then
    say "making the random roberta-base (scripts/bench/make_bench_inputs.py, KRE_CACHE=$KRE_CACHE)"
    "$PY" scripts/bench/make_bench_inputs.py >&2
    MODEL="$KRE_CACHE/bench/roberta-base-random"
fi
MODEL="$(abspath "$MODEL")"
[[ -f "$MODEL/config.json" ]] || { echo "gpu_epoch.sh: $MODEL has no config.json" >&2; exit 2; }
[[ -f "$TOKENIZER" ]] || { echo "gpu_epoch.sh: tokenizer $TOKENIZER missing" >&2; exit 2; }

# kre reads the tokenizer from the model folder: the same weights (links) plus the shared tokenizer.json.
KRE_MODEL="$WORK/model-kre"
rm -rf "$KRE_MODEL"
mkdir -p "$KRE_MODEL"
for f in "$MODEL"/*; do
    case "$(basename "$f")" in
        tokenizer.json|tokenizer_config.json|vocab.txt|special_tokens_map.json) ;;
        *) ln -s "$f" "$KRE_MODEL/" ;;
    esac
done
cp "$TOKENIZER" "$KRE_MODEL/tokenizer.json"

# kre always evaluates a dev set after the epoch (its default is datasets/synthetic-klue-re/dev.json); give it
# the first 64 training records so that costs ~nothing. `samples_per_sec` never includes it; `epoch_seconds` does.
DEV="$WORK/dev-64.json"
N_RECORDS="$("$PY" - "$DATA" "$DEV" "$RECORDS" <<'EOF'
import json, sys
records = json.load(open(sys.argv[1], encoding="utf-8"))
json.dump(records[:64], open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
n = int(sys.argv[3])
print(min(n, len(records)) if n > 0 else len(records))
EOF
)"
say "data $DATA ($N_RECORDS records used), model $MODEL, tokenizer $TOKENIZER"

# ------------------------------------------------------------------ PyTorch
TORCH_RC=skipped
if [[ $SKIP_TORCH == 0 ]]; then
    lim="$(limit_for "$TORCH_TIMEOUT" 60)"
    say "PyTorch epoch (limit ${lim/#0/none} s)"
    cmd=("$PY" -u scripts/bench/torch_train_epoch.py --data "$DATA" --tokenizer "$TOKENIZER" --model "$MODEL"
         --device "$DEVICE" --precision "$PRECISION" --epochs "$EPOCHS" --batch-size 32 --max-length 128
         --max-records "$RECORDS" --out "$RESULTS/pytorch.json")
    [[ ${#TORCH_ARGS[@]} -gt 0 ]] && cmd+=("${TORCH_ARGS[@]}")
    [[ "$lim" != 0 ]] && cmd=(timeout -k 10 "$lim" "${cmd[@]}")
    echo "+ ${cmd[*]}" >"$RESULTS/torch.log"
    smi_start torch
    set +e
    "${cmd[@]}" 2>&1 | tee -a "$RESULTS/torch.log" >&2
    TORCH_RC=${PIPESTATUS[0]}
    set -e
    smi_stop torch
    say "PyTorch exit status $TORCH_RC"
fi

# ------------------------------------------------------------------ kre
KRE_RC=skipped
if [[ $SKIP_KRE == 0 ]]; then
    RUN="$WORK/kre-run"
    rm -rf "$RUN"
    lim="$(limit_for "$KRE_TIMEOUT" 15)"
    say "kre epoch (limit ${lim/#0/none} s)"
    cmd=(env LD_LIBRARY_PATH="$KRE_LD_PATH" "$KRE" train --model "$KRE_MODEL" --train "$DATA" --dev "$DEV"
         --epochs "$EPOCHS" --batch-size 32 --max-length 128 --markers typed-punct --pooling entity-start
         --loss ce --lr 5e-5 --weight-decay 0.01 --warmup-ratio 0.1 --scheduler linear --grad-clip 1.0 --seed 42
         --device "$DEVICE" --precision "$KRE_PRECISION" --out "$RUN" -v)
    [[ $RECORDS -gt 0 ]] && cmd+=(--max-train-records "$RECORDS")
    [[ ${#KRE_ARGS[@]} -gt 0 ]] && cmd+=("${KRE_ARGS[@]}")
    echo "+ ${cmd[*]}" >"$RESULTS/kre.log"
    # Under `script` (a pseudo-terminal) kre draws its progress bar (batch, samples/s), so a run stopped before
    # the end of the epoch still tells its speed; without `script` only the end-of-epoch line appears.
    use_script=0
    if have script && script -qec true /dev/null >/dev/null 2>&1; then use_script=1; fi
    printf -v quoted '%q ' "${cmd[@]}"
    quoted="stty cols 160 rows 40 2>/dev/null; exec $quoted"  # a pty made by `script` has no size otherwise
    [[ $use_script == 1 ]] && run=(script -qefc "$quoted" /dev/null) || run=("${cmd[@]}")
    [[ "$lim" != 0 ]] && run=(timeout -k 10 "$lim" "${run[@]}")
    smi_start kre
    set +e
    kterm="${TERM:-xterm}"
    [[ "$kterm" == dumb ]] && kterm=xterm
    TERM="$kterm" "${run[@]}" </dev/null 2>&1 | tee -a "$RESULTS/kre.log" >/dev/null
    KRE_RC=${PIPESTATUS[0]}
    set -e
    smi_stop kre
    [[ -f "$RUN/metrics.jsonl" ]] && cp "$RUN/metrics.jsonl" "$RESULTS/kre-metrics.jsonl"
    if [[ -f "$RUN/config.toml" ]]; then
        { echo; echo "--- $RUN/config.toml"; cat "$RUN/config.toml"; } >>"$RESULTS/kre.log"
    fi
    tail -c 3000 "$RESULTS/kre.log" | tr '\r' '\n' | sed 's/\x1b\[[0-9;?]*[A-Za-z]//g' | grep -av '^[[:space:]]*$' \
        | tail -4 >&2 || true
    say "kre exit status $KRE_RC"
fi
trap - EXIT

# ------------------------------------------------------------------ table
"$PY" - "$RESULTS" "$N_RECORDS" "$TORCH_RC" "$KRE_RC" "$PRECISION" "$KRE_PRECISION" "$DEVICE" "$EPOCHS" <<'EOF'
import csv, json, os, re, sys

results, n_records, torch_rc, kre_rc, precision, kre_precision, device, epochs = sys.argv[1:]
KRE = "kre (burn-cuda)" if device.startswith("cuda") else f"kre ({device})"
n_records, epochs = int(n_records), int(epochs)
FULL = 32470
path = lambda name: os.path.join(results, name)  # noqa: E731


def read_json(name):
    try:
        with open(path(name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def smi_peaks():
    peaks, idle = {}, None
    try:
        with open(path("smi.csv")) as f:
            rows = list(csv.reader(f))[1:]
    except OSError:
        return peaks, idle
    for row in rows:
        try:
            used = float(row[3])
        except (IndexError, ValueError):
            continue
        phase = row[0]
        if phase == "idle":
            idle = used
            continue
        phase = phase[len("after-"):] if phase.startswith("after-") else phase
        peaks[phase] = max(peaks.get(phase, 0.0), used)
    return peaks, idle


peaks, idle = smi_peaks()
out = {"records": n_records, "epochs": epochs, "precision": precision, "kre_precision": kre_precision,
       "device": device, "smi_peak_mib": peaks, "smi_idle_mib": idle}

torch_res = read_json("pytorch.json")
sides = []
if torch_res:
    sides.append({"side": "PyTorch", "samples_per_s": torch_res["samples_per_s"],
                  "train_seconds": torch_res["epoch_seconds"], "epoch_seconds": torch_res["epoch_seconds"],
                  "complete": True, "mem_gib": torch_res.get("max_memory_gib"), "smi": peaks.get("torch"),
                  "note": f"+ {torch_res['warmup']['steps']} warm-up steps {torch_res['warmup']['seconds']:.1f} s "
                          f"before the timed epoch; {torch_res['settings']['adamw']} AdamW, attention "
                          f"{torch_res['settings']['attn_implementation']}; samples/s per epoch: "
                          + " / ".join(f"{e['samples_per_s']:.1f}" for e in torch_res.get("per_epoch", []))})
elif torch_rc != "skipped":
    sides.append({"side": "PyTorch", "failed": f"exit status {torch_rc}, see torch.log"})
out["pytorch"] = torch_res

kre_metrics = []
try:
    with open(path("kre-metrics.jsonl")) as f:
        kre_metrics = [json.loads(line) for line in f if line.strip()]
except OSError:
    pass
out["kre_metrics"] = kre_metrics
if kre_metrics:
    train_s = sum(n_records / m["samples_per_sec"] for m in kre_metrics) / len(kre_metrics)  # per epoch
    sps = n_records / train_s
    sides.append({"side": KRE, "samples_per_s": sps, "train_seconds": train_s,
                  "epoch_seconds": sum(m["epoch_seconds"] for m in kre_metrics) / len(kre_metrics),
                  "complete": True, "mem_gib": None, "smi": peaks.get("kre"),
                  "note": "s/epoch includes the 64-record dev evaluation; samples/s covers the training loop only, "
                          "its first steps (kernel compilation) included; samples/s per epoch: "
                          + " / ".join(f"{m['samples_per_sec']:.1f}" for m in kre_metrics)})
elif kre_rc != "skipped":
    # Stopped early: the last progress-bar state, if the bar was drawn (`script`).
    text = ""
    try:
        with open(path("kre.log"), errors="replace") as f:
            text = f.read()
    except OSError:
        pass
    bars = re.findall(r"\[(\d+):(\d+):(\d+)\][^\r\n]*?\s(\d+)/(\d+) loss [\d.naNif]+ lr \S+ ([\d.]+) samples/s", text)
    if bars:
        h, m, s, done, total, sps = bars[-1]
        sps = float(sps)
        sides.append({"side": KRE, "samples_per_s": sps, "train_seconds": None, "epoch_seconds": None,
                      "complete": False, "mem_gib": None, "smi": peaks.get("kre"),
                      "note": f"stopped (exit status {kre_rc}) after {done}/{total} batches, "
                              f"{int(h) * 3600 + int(m) * 60 + int(s)} s; samples/s = the bar's running mean"})
    else:
        sides.append({"side": KRE, "failed": f"exit status {kre_rc}, see kre.log"})

fmt = lambda v, spec: "—" if v is None else format(v, spec)  # noqa: E731
gpu = (torch_res or {}).get("gpu") or "?"
lines = [f"GPU epoch comparison: {n_records} records × {epochs} epoch(s), batch 32, max_length 128, typed-punct, "
         f"entity-start, dynamic padding + length bucketing, {precision} (kre {kre_precision}), {device} ({gpu})",
         "",
         "| side | samples/s | train s/epoch | s/epoch (kre: + dev 64) | s/epoch projected to 32,470 | "
         "GPU mem peak, nvidia-smi (MiB) | allocator peak (GiB) | note |",
         "|---|---:|---:|---:|---:|---:|---:|---|"]
for s in sides:
    if "failed" in s:
        lines.append(f"| {s['side']} | failed | | | | | | {s['failed']} |")
        continue
    proj = FULL / s["samples_per_s"] if s["samples_per_s"] else None
    lines.append(f"| {s['side']} | {s['samples_per_s']:.1f} | {fmt(s['train_seconds'], '.1f')} | "
                 f"{fmt(s['epoch_seconds'], '.1f')} | {fmt(proj, '.1f')} | {fmt(s['smi'], '.0f')} | "
                 f"{fmt(s['mem_gib'], '.2f')} | {s['note']} |")
ok = [s for s in sides if "failed" not in s]
if len(ok) == 2:
    k = next(s for s in ok if s["side"].startswith("kre"))
    t = next(s for s in ok if s["side"] == "PyTorch")
    ratio = k["samples_per_s"] / t["samples_per_s"]
    out["ratio_kre_over_pytorch_samples_per_s"] = ratio
    lines += ["", f"kre / PyTorch throughput (samples/s): **{ratio:.3f}×** (> 1 = kre faster; the same number is "
                  f"PyTorch's train s/epoch ÷ kre's)"]
if idle is not None:
    lines.append(f"\nnvidia-smi memory.used before both runs: {idle:.0f} MiB (the peaks above include it).")
out["sides"] = sides
table = "\n".join(lines) + "\n"
with open(path("table.md"), "w") as f:
    f.write(table)
with open(path("results.json"), "w") as f:
    json.dump(out, f, indent=2)
print(table)
EOF
say "results in $RESULTS ($(ls "$RESULTS" | tr '\n' ' '))"
