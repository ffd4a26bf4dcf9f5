#!/usr/bin/env bash
# Build and run every test twice: a RelWithDebInfo build in build/, then an
# AddressSanitizer + UBSan build in build-asan/.  Ends with one line
# "N passed, N failed" summed over both ctest runs; exits non-zero if any
# build or test failed.  Usage: bash scripts/test.sh   (from anywhere)
set -uo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-2}
passed=0
failed=0
status=0

# run_suite NAME BUILD_DIR [cmake options…]
run_suite() {
  local name=$1 dir=$2
  shift 2
  echo "=== $name: configure and build in $dir/"
  if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" ||
     ! cmake --build "$dir" -j"$JOBS"; then
    echo "=== $name: BUILD FAILED" >&2
    failed=$((failed + 1))
    status=1
    return
  fi
  echo "=== $name: ctest"
  local log
  log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure -j"$JOBS" --timeout 1200) 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # "100% tests passed, 0 tests failed out of 12"
  local line
  line=$(grep -E 'tests? failed out of [0-9]+' "$log" | tail -n 1)
  if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
    local f=${BASH_REMATCH[1]} total=${BASH_REMATCH[2]}
    passed=$((passed + total - f))
    failed=$((failed + f))
  elif grep -q 'No tests were found' "$log"; then
    echo "=== $name: no tests found" >&2
  else
    echo "=== $name: could not read ctest's summary" >&2
    failed=$((failed + 1))
  fi
  [ "$rc" -eq 0 ] || status=1
  rm -f "$log"
}

run_suite release build

# kpf handles a failed allocation (KPF_ENOMEM); let ASan return NULL for an
# impossible size as the C library does, instead of aborting the test.
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite sanitize build-asan -DKPF_SANITIZE=ON

echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
