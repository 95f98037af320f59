#!/usr/bin/env bash
# Everything the test suite needs besides Rust crates: OpenBLAS (the `kre` binary's default CPU backend), the real
# MiniLM checkpoint, Korean morphology, a TrueType font for the PNG plots, and a Vulkan driver for the burn-wgpu tests
# (Mesa's software Vulkan, lavapipe: the GPU code path runs on the CPU), and PostgreSQL's server for the study-storage
# tests.
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
# lavapipe's ICD file; libvulkan1 is the Vulkan loader that wgpu opens at run time.
if ! ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep 'libvulkan\.so\.1' >/dev/null; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi
# PostgreSQL server binaries for the study-storage tests (scripts/start-postgres.sh starts a throwaway cluster).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql >/dev/null
fi
