# Sourced by gpu_epoch.sh and gpu_check.sh (not run on its own): sets KRE_LD_PATH, the loader path for a kre binary
# built with `--features cuda` (Python keeps its own).
#   kre_cuda_ld_path DEVICE PY INPUTS WORK
# burn-cuda (cudarc) opens libcuda, libnvrtc and libnccl at run time, so the toolkit's and the Python wheels' CUDA
# library folders go first; then, for shared libraries the binary links that this system lacks (the plots'
# fontconfig/freetype/png…), the copies in INPUTS/lib (scripts/bench/README.md).
kre_cuda_ld_path() {
    local DEVICE=$1 PY=$2 INPUTS=$3 WORK=$4
    kre_libdirs=()
    if [[ "$DEVICE" == cuda* ]]; then
        for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
            [[ -d "$d" ]] && kre_libdirs+=("$d")
        done
        while IFS= read -r d; do
            [[ -n "$d" ]] && kre_libdirs+=("$d")
        done < <("$PY" - <<'EOF_PY' 2>/dev/null || true
import glob, os, site
roots = [os.path.join(r, "nvidia") for r in list(site.getsitepackages()) + [site.getusersitepackages()]]
try:
    import nvidia  # the CUDA wheels' namespace package, wherever a .pth put it

    roots += list(nvidia.__path__)
except ImportError:
    pass
seen = set()
for r in roots:
    for lib in sorted(glob.glob(os.path.join(r, "**", "lib"), recursive=True)):
        lib = os.path.realpath(lib)
        if lib not in seen and glob.glob(os.path.join(lib, "lib*.so*")):
            seen.add(lib)
            print(lib)
EOF_PY
    )
    fi
    if [[ -d "$INPUTS/lib" ]]; then
        rm -rf "$WORK/lib"
        mkdir -p "$WORK/lib"
        for f in "$INPUTS"/lib/*.so*; do
            [[ -e "$f" ]] || continue
            name="$(basename "$f")"
            # Only what the system cannot provide itself.
            if ! ldconfig -p 2>/dev/null | grep -q "^[[:space:]]*${name//./\\.} "; then
                ln -sf "$f" "$WORK/lib/$name"
            fi
        done
        kre_libdirs+=("$WORK/lib")
    fi
    # cudarc tries `libX.so` before versioned names of its own build's CUDA major; unversioned links to what is here
    # (libnvrtc.so.13, libnccl.so.2, …) make the lookup independent of that.
    if [[ ${#kre_libdirs[@]} -gt 0 ]]; then
        rm -rf "$WORK/cudalinks"
        mkdir -p "$WORK/cudalinks"
        for name in nvrtc nccl cuda; do
            found=""
            for d in "${kre_libdirs[@]}" /usr/lib/x86_64-linux-gnu /usr/local/nvidia/lib64 /usr/lib64; do
                [[ -e "$d/lib$name.so" ]] && { found=plain; break; }
                for f in "$d"/lib"$name".so.[0-9]*; do
                    [[ -e "$f" && -z "$found" ]] && found="$f"
                done
                [[ -n "$found" ]] && break
            done
            [[ -n "$found" && "$found" != plain ]] && ln -sf "$found" "$WORK/cudalinks/lib$name.so"
        done
        kre_libdirs+=("$WORK/cudalinks")
    fi
    KRE_LD_PATH="$(IFS=:; echo "${kre_libdirs[*]:-}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    KRE_LD_PATH="${KRE_LD_PATH#:}"
}
