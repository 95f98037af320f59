#!/usr/bin/env bash
# Everything the test suite needs besides Rust crates: OpenBLAS (the `kre` binary's default CPU backend), the real
# MiniLM checkpoint, Korean morphology, and a TrueType font for the PNG plots.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/install-deps.sh"
bash "$here/install-minilm.sh"
bash "$here/install-mecab-ko.sh"
if ! ls /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq fonts-dejavu-core fontconfig >/dev/null
fi
