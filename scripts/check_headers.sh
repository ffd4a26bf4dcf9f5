#!/usr/bin/env bash
# Every installed public header compiles on its own (ctest runs this as
# `headers_alone`).  The build tree is installed into a temporary prefix and
# each <prefix>/include/kpf/*.h is compiled, as C11 with -Wall -Wextra
# -Werror, from a file that includes just that header (twice: the include
# guard must hold), with only the flags `pkg-config --cflags kpf` gives an
# installed consumer.  A header that needs a header kpf does not install, a
# type it does not include, or its includer to come first fails here.  The
# installed set must also be exactly the source tree's public headers
# (core/<layer>/include/kpf/*.h) plus the generated version.h.
# Usage: bash scripts/check_headers.sh BUILD_DIR SOURCE_DIR [CC]
set -euo pipefail
build=${1:?usage: check_headers.sh BUILD_DIR SOURCE_DIR [CC]}
src=${2:?usage: check_headers.sh BUILD_DIR SOURCE_DIR [CC]}
cc=${3:-${CC:-cc}}

tmp=$(mktemp -d /tmp/kpf-headers-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if ! cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then
  echo "check_headers: cmake --install $build failed:"
  cat "$tmp/install.log"
  exit 1
fi

inc=$tmp/prefix/include/kpf
expected=$( (cd "$src/core" && for h in */include/kpf/*.h; do basename "$h"; done
             echo version.h) | sort)
installed=$( (cd "$inc" && ls -- *.h) | sort)
if [ "$expected" != "$installed" ]; then
  echo "check_headers: the installed headers differ from the source tree's public ones"
  echo "  (< only in core/*/include/kpf, > only in the install):"
  diff <(echo "$expected") <(echo "$installed") | grep '^[<>]' | sed 's/^/  /'
  exit 1
fi

pc=$(dirname "$(find "$tmp/prefix" -name kpf.pc -path '*/pkgconfig/*' | head -n 1)")
if ! cflags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags kpf); then
  echo "check_headers: pkg-config --cflags kpf failed with PKG_CONFIG_PATH=$pc"
  exit 1
fi

failed=0
n=0
for h in $installed; do
  n=$((n + 1))
  printf '#include <kpf/%s>\n#include <kpf/%s>\n' "$h" "$h" >"$tmp/alone.c"
  # shellcheck disable=SC2086  # pkg-config's flags are words
  if ! "$cc" -std=c11 -Wall -Wextra -Werror -fsyntax-only $cflags "$tmp/alone.c" \
      >"$tmp/cc.log" 2>&1; then
    echo "check_headers: kpf/$h does not compile on its own:"
    sed 's/^/  /' "$tmp/cc.log"
    failed=$((failed + 1))
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "check_headers: $failed of $n installed headers fail"
  exit 1
fi
echo "check_headers: ok ($n installed headers compile alone as C11 with -Wall -Wextra -Werror)"
