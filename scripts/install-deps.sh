#!/usr/bin/env bash
# System packages the `kre` binary links against: OpenBLAS (Debian `libopenblas-dev`) for burn-ndarray's matrix
# products — the fastest burn CPU backend measured for training (docs/performance.md). Skip this and build with
# `cargo build -p re-cli --no-default-features` to use plain burn-ndarray instead.
set -euo pipefail
if ! dpkg -s libopenblas-dev >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq libopenblas-dev pkg-config >/dev/null
fi
