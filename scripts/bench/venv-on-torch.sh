# Sourced by the bench scripts: `venv_on_torch ROOT VENV NAME` creates the venv VENV (unless it exists) and, when
# ROOT/.venv-torch exists, builds it on .venv-torch's interpreter with a NAME.pth pointing at .venv-torch's packages,
# so torch and transformers are not downloaded again (scripts/bench/setup.sh does the same for .venv-bench).
venv_on_torch() {
  local root="$1" venv="$2" name="$3" base="${PYTHON:-python3}"
  [ -x "$venv/bin/python" ] && return 0
  if [ -x "$root/.venv-torch/bin/python" ]; then
    base="$("$root/.venv-torch/bin/python" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))')"
    "$base" -m venv "$venv"
    "$root/.venv-torch/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
      >"$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/$name.pth"
  else
    "$base" -m venv "$venv"
  fi
}
