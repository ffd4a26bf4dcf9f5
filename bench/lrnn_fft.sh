#!/usr/bin/env bash
# bench/lrnn_fft.sh — recurrence vs FFT forward pass of a linear RNN
# (bench/lrnn_fft_bench.c; docs/lrnn.md "Performance").  Builds kpf in
# Release in build-bench/ (or uses BUILD=<dir> of an existing build), then
# runs the benchmark with any arguments given (e.g. --Tmax 100000 --nh 64
# --B 32).  THREADS (default 1) sets OpenBLAS's thread count.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-bench}
if [ ! -f "$BUILD/lib/libkpf.so" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DKPF_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" >/dev/null
fi
mkdir -p "$BUILD/bin"
cc -O2 -std=c11 -Wall -Wextra -Icore/include -I"$BUILD/core/include" \
  bench/lrnn_fft_bench.c -o "$BUILD/bin/lrnn_fft_bench" -L"$BUILD/lib" -lkpf \
  -Wl,-rpath,"$(realpath "$BUILD/lib")" -lm
export OPENBLAS_NUM_THREADS=${THREADS:-1}
"$BUILD/bin/lrnn_fft_bench" "$@"
