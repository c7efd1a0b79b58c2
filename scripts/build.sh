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

if [ "$what" = all ] || [ "$what" = native ]; then
  [ -f build/native/CMakeCache.txt ] || cmake -S . -B build/native -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build/native -j "$jobs" 2>&1 | grep -v '^\[' | grep -v '^$' || true
  test "${PIPESTATUS[0]}" -eq 0
fi
if [ "$what" = all ] || [ "$what" = wasm ]; then
  [ -f build/wasm/CMakeCache.txt ] || emcmake cmake -S . -B build/wasm -DCMAKE_BUILD_TYPE="${SP_WASM_BUILD_TYPE:-Release}" >/dev/null
  cmake --build build/wasm -j "$jobs" 2>&1 | grep -v '^\[' | grep -v '^$' || true
  test "${PIPESTATUS[0]}" -eq 0
fi
