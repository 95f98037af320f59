#!/usr/bin/env bash
# Everything the test suite needs besides Rust crates: the real MiniLM checkpoint and Korean morphology.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/install-minilm.sh"
bash "$here/install-mecab-ko.sh"
