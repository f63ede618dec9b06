#!/usr/bin/env bash
# A CUDA 13.0 toolkit for building `themes --features cuda`, from NVIDIA's
# Python wheels alone (no system toolkit, no driver, no GPU needed to build).
#
#   eval "$(scripts/cuda-toolkit.sh [DIR])"     # default DIR: .cuda
#   cargo build --release --features cuda
#
# What it does, idempotently:
#   1. DIR/venv: a virtual environment with the pinned wheels below
#      (about 645 MB of downloads, 1.2 GB installed).
#   2. DIR/toolkit: a folder laid out as a toolkit: bin (nvcc, ptxas,
#      nvlink), include, nvvm, and lib64 holding the wheels' libraries under
#      the unversioned names the linker asks for (libcudart.so, ...).
#   3. DIR/toolkit/lib64/stubs/libcuda.so: a link-time stand-in for the
#      driver library (soname libcuda.so.1, every entry point returns
#      CUDA_ERROR_NO_DEVICE), as a real toolkit's lib64/stubs holds. The
#      build links against it only so that the binary records a dependency
#      on libcuda.so.1; at run time that name must resolve to the NVIDIA
#      driver's own library. Never put the stubs folder on LD_LIBRARY_PATH
#      and never ship it.
#   4. Prints the build environment as `export` lines on standard output
#      (everything else goes to standard error).
#
# CUDA_COMPUTE_CAP (default 90: H100/H200) selects the GPU generation the
# kernels are compiled for; set it before running this script to change it
# (80: A100, 89: L4/L40, 100: B200).
#
# Why 13.0: cudarc 0.19 (candle 0.11) supports CUDA 11.4 to 13.4, and the
# PTX that a newer nvcc writes is refused by an older driver; 13.0 is the
# oldest 13.x, so any driver that runs CUDA 13 runs this build.
set -euo pipefail

DIR=${1:-.cuda}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
VENV=$DIR/venv
TK=$DIR/toolkit
CAP=${CUDA_COMPUTE_CAP:-90}

WHEELS=(
  nvidia-cuda-nvcc==13.0.88     # nvcc, ptxas, nvlink, fatbinary
  nvidia-nvvm==13.0.88          # cicc, libdevice
  nvidia-cuda-crt==13.0.88      # crt headers
  nvidia-cuda-runtime==13.0.96  # cuda.h, cuda_runtime.h, libcudart
  nvidia-cuda-cccl==13.0.85     # thrust, cub, libcu++
  nvidia-cuda-nvrtc==13.0.88    # libnvrtc (cudarc links it; the binary ends up not needing it)
  nvidia-cublas==13.0.2.14      # libcublas, libcublasLt
  nvidia-curand==10.4.0.35      # libcurand
)

log() { printf '%s\n' "$*" >&2; }

# 1. The wheels.
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  python3 -m venv "$VENV" >&2
fi
# Drop the trailing comments: pip takes the bare requirement specifiers.
REQS=()
for w in "${WHEELS[@]}"; do REQS+=("${w%% *}"); done
if ! "$VENV/bin/python" - "${REQS[@]}" 2>/dev/null <<'EOF'
import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (r.split("==") for r in sys.argv[1:])))
EOF
then
  log "installing ${#REQS[@]} wheels into $VENV (about 645 MB)"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-cache-dir "${REQS[@]}" >&2
fi

SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
CU=$SITE/nvidia/cu13
for d in bin include nvvm lib; do
  [ -d "$CU/$d" ] || { log "error: $CU/$d missing: the wheels' layout is not the one expected"; exit 1; }
done

# 2. The toolkit folder. bin, include and nvvm are links into the wheels
# (nvcc finds its siblings from its own real location); lib64 is a real
# folder of links so that it can add the unversioned names.
mkdir -p "$TK/lib64/stubs"
for d in bin include nvvm; do ln -sfn "$CU/$d" "$TK/$d"; done
for f in "$CU"/lib/*.so*; do
  name=$(basename "$f")
  ln -sfn "$f" "$TK/lib64/$name"
  base=${name%%.so*}.so            # libcublas.so.13 -> libcublas.so
  [ -e "$TK/lib64/$base" ] || ln -sfn "$f" "$TK/lib64/$base"
done
for f in "$CU"/lib/*.a; do ln -sfn "$f" "$TK/lib64/$(basename "$f")"; done

# 3. The link-time stub of the driver library, built from the wheels' own
# cuda.h: after preprocessing, every `CUresult cuX(` is an exported entry
# point under its real (versioned, e.g. cuMemAlloc_v2) name.
STUB=$TK/lib64/stubs/libcuda.so
if [ ! -e "$STUB" ] || [ "$CU/include/cuda.h" -nt "$STUB" ]; then
  command -v cc >/dev/null || { log "error: a C compiler (cc) is needed for the link-time stub"; exit 1; }
  SRC=$(mktemp --suffix=.c)
  {
    echo '/* Link-time stand-in for libcuda.so.1: never load it. */'
    cc -E -P -I "$CU/include" "$CU/include/cuda.h" | tr '\n' ' ' |
      grep -oE 'CUresult +cu[A-Za-z0-9_]+ *\(' | sed -E 's/CUresult +(cu[A-Za-z0-9_]+).*/\1/' |
      sort -u | sed 's/.*/int &(void) { return 100; }/'   # 100: CUDA_ERROR_NO_DEVICE
  } > "$SRC"
  cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$STUB" "$SRC"
  log "built $STUB ($(grep -c 'return 100' "$SRC") entry points)"
  rm -f "$SRC"
fi

"$TK/bin/nvcc" --version >&2

# 4. The build environment. cudarc and candle-kernels find nvcc on PATH and
# the libraries (and the stub) under CUDA_ROOT/lib64 and lib64/stubs.
cat <<EOF
export CUDA_ROOT='$TK'
export CUDA_PATH='$TK'
export CUDA_HOME='$TK'
export PATH='$TK/bin':"\$PATH"
export LIBRARY_PATH='$TK/lib64':'$TK/lib64/stubs'\${LIBRARY_PATH:+:\$LIBRARY_PATH}
export CUDA_COMPUTE_CAP='$CAP'
# At run time (not needed to build): the wheels' libraries, and the NVIDIA
# driver's libcuda.so.1 from the system; never the stubs folder:
#   export LD_LIBRARY_PATH='$TK/lib64'\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
EOF
