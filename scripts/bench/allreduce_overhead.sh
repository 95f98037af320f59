#!/usr/bin/env bash
# Per-step cost of the multi-node gradient all-reduce (burn-collective over loopback) next to the single-process
# training step, for the `tiny` encoder and one the size of roberta-base's layers (hidden 768, 12 layers).
#
#   KRE_BIN=target/release/kre bash scripts/bench/allreduce_overhead.sh [tiny|base ...]
#
# For each size: one single-process run (step time = epoch training time / steps), then 2 node processes on
# 127.0.0.1 (rank 0 runs the coordinator), each logging the seconds of every collective operation (register +
# all-reduce + finish, from `RUST_LOG=re_train::distributed=debug`). Both nodes share this machine's cores, so
# the all-reduce time includes waiting for the slower node; the minimum over steps is the closest to the pure
# transfer cost. Synthetic data only; everything stays on loopback and in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/../.."
KRE_BIN=${KRE_BIN:-target/release/kre}
SIZES=${*:-tiny base}
WORK=$(mktemp -d)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT
DATA=datasets/synthetic-klue-re
python3 - "$DATA" "$WORK" <<'PY'
import json, sys
data, work = sys.argv[1:]
for name, n in (("train.json", 64), ("dev.json", 16)):
    recs = json.load(open(f"{data}/{name}", encoding="utf-8"))[:n]
    json.dump(recs, open(f"{work}/{name}", "w", encoding="utf-8"), ensure_ascii=False)
PY
port=$((20000 + RANDOM % 20000))
for size in $SIZES; do
  case $size in
    tiny) model=(--tiny-hidden-size 256 --tiny-layers 4 --tiny-heads 4 --tiny-intermediate-size 1024) ;;
    base) model=(--tiny-hidden-size 768 --tiny-layers 12 --tiny-heads 12 --tiny-intermediate-size 3072) ;;
    *) echo "unknown size $size (tiny|base)" >&2; exit 2 ;;
  esac
  common=(train --model tiny "${model[@]}" --tiny-dropout 0 --train "$WORK/train.json" --dev "$WORK/dev.json"
          --epochs 1 --batch-size 16 --max-length 128 --device cpu)
  "$KRE_BIN" "${common[@]}" --out "$WORK/$size-single" > "$WORK/$size-single.log" 2>&1
  for rank in 0 1; do
    RUST_LOG=re_train::distributed=debug "$KRE_BIN" "${common[@]}" --out "$WORK/$size-rank$rank" \
      --nodes 2 --node-rank $rank --coordinator 127.0.0.1:$port --peer-timeout 600 \
      > "$WORK/$size-rank$rank.log" 2>&1 &
  done
  wait
  port=$((port + 3))
  python3 - "$WORK" "$size" <<'PY'
import json, re, statistics, sys
work, size = sys.argv[1:]
def epoch(run):
    m = json.loads(open(f"{work}/{run}/metrics.jsonl").readline())
    return m
single = epoch(f"{size}-single")
steps = single["step"]
train_s = 64 / single["samples_per_sec"]
two = epoch(f"{size}-rank0")
secs, values = [], 0
for rank in (0, 1):
    for line in open(f"{work}/{size}-rank{rank}.log", encoding="utf-8", errors="replace"):
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)  # tracing's colours
        if "the gradient all-reduce" in line:
            secs.append(float(re.search(r"seconds=([0-9.e-]+)", line).group(1)))
            values = int(re.search(r"values=(\d+)", line).group(1))
print(f"{size}: {values:,} values ({values * 4 / 1e6:.0f} MB) per all-reduce; single-process step "
      f"{train_s / steps * 1000:.0f} ms; 2-node step {64 / two['samples_per_sec'] / steps * 1000:.0f} ms; "
      f"all-reduce per step median {statistics.median(secs) * 1000:.0f} ms, min {min(secs) * 1000:.0f} ms "
      f"({len(secs)} calls)")
PY
done
