# Sourced by the install scripts: where kre keeps installed models and dictionaries.
# Tests and the CLI read the same place: $KRE_CACHE, default ~/.cache/kre.
KRE_CACHE="${KRE_CACHE:-$HOME/.cache/kre}"
export KRE_CACHE
mkdir -p "$KRE_CACHE"
