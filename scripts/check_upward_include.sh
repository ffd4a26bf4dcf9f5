#!/usr/bin/env bash
# The build makes an upward #include a compile error (cmake/KpfLayer.cmake:
# each layer's target sees only its own headers and those below).  This
# proves it on the real targets (ctest runs it as `layers_upward_include`):
# tests/layers/upward_include.c includes kpf/train.h and is built twice, as
# kpf_probe_within (linked to kpf_train: must compile) and kpf_probe_upward
# (linked to kpf_sys, the lowest layer: must fail, naming kpf/train.h).
# Both targets are EXCLUDE_FROM_ALL (tests/CMakeLists.txt).
# Usage: bash scripts/check_upward_include.sh BUILD_DIR
set -uo pipefail
build=${1:?usage: check_upward_include.sh BUILD_DIR}

if ! out=$(cmake --build "$build" --target kpf_probe_within 2>&1); then
  echo "check_upward_include: the control kpf_probe_within (sees kpf_train) does not build:"
  echo "$out" | tail -n 30
  exit 1
fi
if out=$(cmake --build "$build" --target kpf_probe_upward 2>&1); then
  echo "check_upward_include: kpf_probe_upward (sees only kpf_sys) compiled an #include of"
  echo "kpf/train.h: a low layer can see a higher layer's headers"
  exit 1
fi
if ! grep -q 'kpf/train\.h' <<<"$out"; then
  echo "check_upward_include: kpf_probe_upward failed, but not on kpf/train.h:"
  echo "$out" | tail -n 30
  exit 1
fi
echo "check_upward_include: ok (kpf/train.h is out of kpf_sys's reach, within kpf_train's)"
