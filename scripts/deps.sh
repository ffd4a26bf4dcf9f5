#!/usr/bin/env bash
# Install every Debian package kpf needs (Debian 12).  Run as root, or as a
# user with sudo.  Quick and silent when everything is already installed.
set -euo pipefail

packages=(
  build-essential cmake pkg-config   # compiler, build system
  libgsl-dev libopenblas-dev         # GSL; OpenBLAS as its CBLAS
  libyaml-dev libhdf5-dev            # configs in, arrays out
  zlib1g-dev                         # CRC-32 seals of checkpoints
  libarpack2-dev libfftw3-dev        # matrix-free eigensolver, FFTs
  libopenmpi-dev openmpi-bin         # optional MPI: sweeps on many ranks, trial-parallel runs
  libparpack2-dev                    # PARPACK: ARPACK on trial-distributed operators (MPI)
  libsleef-dev                       # vectorised tanh/exp (kpf/vmath.h)
  libjansson-dev                     # safetensors headers, kpf show
  libcriterion-dev                   # tests
  clang libclang-rt-14-dev           # libFuzzer, sanitizers (scripts/fuzz.sh)
  gnuplot-nox python3                # plots, helper scripts
  python3-numpy                      # independent safetensors writer (tests)
  python3-cffi python3-pytest        # the Python package (python/, numpy too) and its tests
)

missing=()
for p in "${packages[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps.sh: all ${#packages[@]} packages already installed"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "deps.sh: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "deps.sh: missing ${missing[*]}"
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${packages[@]}"
