#!/usr/bin/env bash
# Environment and shared inputs of the side-by-side performance harness (scripts/bench/README.md).
#
#   bash scripts/bench/setup.sh
#
# 1. The venv .venv-bench (override with BENCH_VENV) with torch (CPU is enough), transformers, safetensors, tokenizers,
#    numpy and scikit-learn, all from PyPI. When .venv-torch (tools/make_parity_fixtures.py) and/or .venv-sk
#    (tools/make_metric_fixtures.py) exist and use the same Python version, .venv-bench is created with that
#    interpreter and sees their site-packages through a .pth file instead of downloading torch again; only what is
#    still missing is installed with pip. (PyPI's Linux torch wheel is the CUDA build; it runs on CPU as it is.
#    The CPU-only wheels live on download.pytorch.org, which is not PyPI, so this script does not use them.)
# 2. $KRE_CACHE/all-minilm-l6-v2 (scripts/install-minilm.sh) and, via make_bench_inputs.py,
#    $KRE_CACHE/bench/{inputs.json, roberta-base-random/}.
# 3. $KRE_CACHE/bench/synth-32470.json: `kre synth --n 32470 --seed 1 --dev-ratio 0 --test-ratio 0`, whose train.json
#    holds all 32,470 records (the same records perf_rows.rs writes when the file is missing). Uses $KRE_BIN when
#    set, else `cargo run --release -p re-cli --bin kre`.
# Everything is skipped when already there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$root/scripts/kre-cache.sh"
venv="${BENCH_VENV:-$root/.venv-bench}"
python="${PYTHON:-python3}"

pyver() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])'; }
purelib() { "$1" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

# ---------------------------------------------------------------- 1. venv
if [ ! -x "$venv/bin/python" ]; then
  reuse=()
  base="$python"
  if [ -x "$root/.venv-torch/bin/python" ]; then
    base="$("$root/.venv-torch/bin/python" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')"
    reuse+=("$root/.venv-torch")
  fi
  if [ -x "$root/.venv-sk/bin/python" ] && [ "$(pyver "$root/.venv-sk/bin/python")" = "$(pyver "$base")" ]; then
    reuse+=("$root/.venv-sk")
  fi
  echo "creating $venv with $base (Python $(pyver "$base"))"
  "$base" -m venv "$venv"
  if [ "${#reuse[@]}" -gt 0 ]; then
    pth="$(purelib "$venv/bin/python")/kre-bench-reuse.pth"
    : >"$pth"
    for v in "${reuse[@]}"; do
      purelib "$v/bin/python" >>"$pth"
      echo "  reusing the packages of $v"
    done
  fi
fi

missing=()
# onnxruntime, onnx, onnxscript: the ONNX Runtime columns (ort_rows.py: torch.onnx.export, quantize_dynamic).
for spec in torch:torch transformers:transformers safetensors:safetensors tokenizers:tokenizers numpy:numpy \
            sklearn:scikit-learn onnxruntime:onnxruntime onnx:onnx onnxscript:onnxscript; do
  module="${spec%%:*}"; package="${spec#*:}"
  if ! "$venv/bin/python" -c "import $module" >/dev/null 2>&1; then
    missing+=("$package")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing from PyPI into $venv: ${missing[*]}"
  "$venv/bin/python" -m pip install --quiet "${missing[@]}"
fi
"$venv/bin/python" - <<'PY'
import numpy, sklearn, tokenizers, torch, transformers, safetensors
print(f"bench venv: torch {torch.__version__}, transformers {transformers.__version__}, "
      f"tokenizers {tokenizers.__version__}, numpy {numpy.__version__}, scikit-learn {sklearn.__version__}")
PY

# ---------------------------------------------------------------- 2. models and inputs
bash "$root/scripts/install-minilm.sh"
"$venv/bin/python" "$here/make_bench_inputs.py"

# ---------------------------------------------------------------- 3. the tokenization row's records
synth="$KRE_CACHE/bench/synth-32470.json"
if [ -f "$synth" ]; then
  echo "$synth exists"
else
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  if [ -n "${KRE_BIN:-}" ]; then
    "$KRE_BIN" synth --n 32470 --seed 1 --dev-ratio 0 --test-ratio 0 --out "$tmp"
  else
    (cd "$root" && cargo run --quiet --release -p re-cli --bin kre -- \
      synth --n 32470 --seed 1 --dev-ratio 0 --test-ratio 0 --out "$tmp")
  fi
  mv "$tmp/train.json" "$synth.partial" && mv "$synth.partial" "$synth"
  echo "wrote $synth"
fi
