#!/usr/bin/env bash
# build.sh - incremental builds of both targets:
#   build/native : static library + C tests with ASan/UBSan
#   build/wasm   : wasm/softprompt.{js,wasm}, wasm/softprompt-mt.{js,wasm,worker.js}, wasm C tests
# Set SP_BUILD=native or SP_BUILD=wasm to build one; SP_WASM_BUILD_TYPE=Debug for assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs   # emcc's JS optimizer needs acorn from Debian's node path
jobs=$(nproc 2>/dev/null || echo 2)
what=${SP_BUILD:-all}

# Drops cmake's progress lines and blank lines. The filter itself never fails (grep exits 1 when it
# prints nothing), so with pipefail the pipeline's status is the build's: a failed compile fails
# the script, with the compiler's message on the output.
quiet() { grep -Ev '^\[|^$' || true; }

if [ "$what" = all ] || [ "$what" = native ]; then
  [ -f build/native/CMakeCache.txt ] || cmake -S . -B build/native -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build/native -j "$jobs" 2>&1 | quiet
fi
if [ "$what" = all ] || [ "$what" = wasm ]; then
  [ -f build/wasm/CMakeCache.txt ] || emcmake cmake -S . -B build/wasm -DCMAKE_BUILD_TYPE="${SP_WASM_BUILD_TYPE:-Release}" >/dev/null
  cmake --build build/wasm -j "$jobs" 2>&1 | quiet
fi
