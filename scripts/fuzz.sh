#!/usr/bin/env bash
# bash scripts/fuzz.sh SECONDS [HARNESS ...]
#
# Builds libkpf, the plugins and the libFuzzer harnesses of fuzz/ with clang
# (-fsanitize=fuzzer,address,undefined; the library itself instrumented for
# coverage) in build-fuzz/, then runs each harness (default: all of
# fuzz/CMakeLists.txt's) for SECONDS, starting from its stored corpus
# fuzz/corpus/<harness>/.  New inputs go to build-fuzz/corpus/<harness>/;
# a crash, sanitizer report, leak, hang (> 10 s) or 4 GB of memory in use is
# written to fuzz/crashes/<harness>/ — add it to git once fixed, and the
# ctest replay (fuzz_<harness>_replay) keeps it fixed.
#
# Environment: KPF_FUZZ_RUNS=N stops each harness after N executions
# instead (SECONDS still bounds it); KPF_FUZZ_FORK=J runs J worker
# processes that go on past a finding (libFuzzer -fork=J -ignore_crashes
# -ignore_ooms -ignore_timeouts: every finding is kept, the run is not cut
# short by the first); KPF_FUZZ_MERGE=1 merges the new inputs
# into fuzz/corpus/<harness>/ (libFuzzer -merge=1 keeps only inputs that add
# coverage); KPF_FUZZ_BUILD=DIR picks the build folder; KPF_FUZZ_JOBS=N the
# build's parallelism (default 2).  Needs Debian's clang and
# libclang-rt-14-dev (scripts/deps.sh).
set -euo pipefail

if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: bash scripts/fuzz.sh SECONDS [HARNESS ...]" >&2
  exit 2
fi
seconds=$1; shift
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KPF_FUZZ_BUILD:-$root/build-fuzz}
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  read -r -a harnesses <<< "$(sed -n 's/^set(KPF_FUZZ_HARNESSES \(.*\))$/\1/p' "$root/fuzz/CMakeLists.txt")"
fi

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (bash scripts/deps.sh)" >&2; exit 1; }
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKPF_SANITIZE=ON -DKPF_FUZZ=ON -DKPF_BUILD_TESTS=ON \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build" -j"${KPF_FUZZ_JOBS:-2}" --target "${targets[@]}" >/dev/null

# One allocation over 2 GB comes back as NULL, as on a machine without the
# memory: a config may ask for a model of any size, and kpf must then say
# ENOMEM (those paths get fuzzed too) rather than be taken for a leak or
# an out-of-memory finding.  UBSan stops at the first report
# (KPF_SANITIZE: -fno-sanitize-recover).
export ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:max_allocation_size_mb=2048:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/fuzz/lsan.supp:print_suppressions=0}
export KPF_PLUGIN_PATH=

status=0
for h in "${harnesses[@]}"; do
  work="$build/corpus/$h"
  crashes="$root/fuzz/crashes/$h"
  mkdir -p "$work" "$crashes"
  log="$build/fuzz_$h.log"
  runs=()
  [ -n "${KPF_FUZZ_RUNS:-}" ] && runs=(-runs="$KPF_FUZZ_RUNS")
  [ -n "${KPF_FUZZ_FORK:-}" ] && runs+=(-fork="$KPF_FUZZ_FORK" -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
  before=$(ls "$crashes" | wc -l)
  start=$(date +%s)
  set +e
  "$build/bin/fuzz_$h" -max_total_time="$seconds" "${runs[@]}" -timeout=10 \
    -rss_limit_mb=4096 -malloc_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$work" "$root/fuzz/corpus/$h" >"$log" 2>&1
  rc=$?
  set -e
  secs=$(( $(date +%s) - start ))
  if [ -n "${KPF_FUZZ_FORK:-}" ]; then # totals on the status lines: "#N: cov: …"
    execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -1)
  else
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  fi
  found=$(( $(ls "$crashes" | wc -l) - before ))
  size=$(ls "$work" | wc -l)
  echo "fuzz.sh: $h: ${execs:-?} executions in ${secs} s, $found new finding(s), corpus $size inputs (log: $log)"
  if [ $rc -ne 0 ] || [ $found -ne 0 ]; then
    status=1
    grep -m3 -E "ERROR|SUMMARY|runtime error" "$log" >&2 || true
  fi
  if [ "${KPF_FUZZ_MERGE:-0}" = 1 ]; then
    "$build/bin/fuzz_$h" -merge=1 "$root/fuzz/corpus/$h" "$work" >>"$log" 2>&1
    echo "fuzz.sh: $h: stored corpus now $(ls "$root/fuzz/corpus/$h" | wc -l) inputs"
  fi
done
exit $status
