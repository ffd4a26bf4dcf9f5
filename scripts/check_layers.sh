#!/usr/bin/env bash
# The layering rules of libkpf, checked on the source tree (ctest runs this
# as `check_layers`, so scripts/test.sh and CI do too):
#   - no string literal under core/ names a plugin (core/*/tests exempt);
#   - no file(GLOB) in core, every layer .c file listed in its CMakeLists.txt;
#   - no #include climbs out of its folder ("../");
#   - KPF_LAYERS and each layer's BELOW form one chain.
# The rules, and what exactly counts, are in scripts/check_layers.py.
# Usage: bash scripts/check_layers.sh [SOURCE_DIR]   (default: this checkout)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec python3 "$here/check_layers.py" "${1:-$here/..}"
