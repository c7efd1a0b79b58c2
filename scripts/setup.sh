#!/usr/bin/env bash
# setup.sh - make a fresh Debian machine ready, then build. Idempotent and quick when
# everything is already there. Used by `npm start`, `npm test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v emcc >/dev/null 2>&1 || need_apt+=(emscripten)
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v cc >/dev/null 2>&1 || need_apt+=(gcc)
# the Unicode Character Database, read by scripts/gen-unicode.js (the generated tables are committed)
[ -f /usr/share/unicode/UnicodeData.txt ] || need_apt+=(unicode-data)
if [ "${SP_SKIP_BROWSER:-0}" != "1" ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fi
# `npm run bench -- --peer`: the peer harness (../shared/peers) writes its GGUF models with numpy.
# Debian's python3 (a pyenv or venv python3 earlier on PATH may lack numpy; the harness tries each)
/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 || need_apt+=(python3-numpy)
# SP_FUZZ=1 (set by .ci/run): clang and its libFuzzer/sanitizer runtimes for scripts/fuzz.sh
if [ "${SP_FUZZ:-0}" = "1" ]; then
  if ! command -v clang >/dev/null 2>&1; then
    need_apt+=(clang libclang-rt-dev)
  elif [ ! -f "$(clang -print-file-name="libclang_rt.fuzzer-$(uname -m).a" 2>/dev/null)" ]; then
    need_apt+=("libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev")
  fi
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}" >&2
fi

if [ ! -d node_modules ] || [ package.json -nt node_modules ] || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules ]; }; then
  echo "setup: npm ci" >&2
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
  touch node_modules
fi

bash scripts/build.sh
