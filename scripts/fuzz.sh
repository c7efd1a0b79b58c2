#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang, ASan and UBSan, make
# the seed corpora (tests/fuzz/make-corpus.js: tiny models + copies of the shared real files, all
# under build/fuzz/) and run each harness for SP_FUZZ_SECONDS (default 20). Fails on any crash,
# sanitizer report, leak, timeout or property failure; the input is saved in build/fuzz/artifacts/<name>/.
# Keep a minimised crash input as tests/fuzz/regressions/<name>/<something> (replayed by
# tests/c/test_fuzz_regressions.c). Options: SP_FUZZ_TARGETS="gguf json" to pick harnesses,
# By default every tests/fuzz/fuzz_<name>.c is run. A harness that honours SP_FUZZ_SEEDS=<dir> (writes its own
# seeds there) gets that chance first. SP_FUZZ_JOBS (parallel workers per harness, default 1), extra libFuzzer flags in SP_FUZZ_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${SP_FUZZ_SECONDS:-20}
all_targets=$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||' | tr '\n' ' ')
targets=${SP_FUZZ_TARGETS:-$all_targets}
jobs=${SP_FUZZ_JOBS:-1}
export NODE_PATH=/usr/share/nodejs

command -v clang >/dev/null || { echo "fuzz.sh: clang is required (apt-get install clang)" >&2; exit 2; }
CC=clang cmake -S . -B build/fuzz -DSP_FUZZ=ON -DSP_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
build_targets=""
for t in $targets; do build_targets="$build_targets --target fuzz_$t"; done
# shellcheck disable=SC2086
# the filter never fails (grep exits 1 on no output); with pipefail a failed build fails the script
cmake --build build/fuzz -j "$(nproc 2>/dev/null || echo 2)" $build_targets 2>&1 | { grep -Ev '^\[|^$' || true; }

node tests/fuzz/make-corpus.js build/fuzz/corpus

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in $targets; do
  work=build/fuzz/work/$t
  art=build/fuzz/artifacts/$t
  mkdir -p "$work" "$art" "tests/fuzz/regressions/$t" "build/fuzz/corpus/$t" "build/fuzz/empty"
  if ! SP_FUZZ_SEEDS="$root/build/fuzz/corpus/$t" "build/fuzz/fuzz/fuzz_$t" -runs=0 build/fuzz/empty > "build/fuzz/seeds_$t.log" 2>&1; then
    echo "fuzz_$t: FAILED writing its seeds (log: build/fuzz/seeds_$t.log)" >&2
    status=1
    continue
  fi
  # libFuzzer truncates corpus files to max_len: model's must hold the K-quant seeds (rows of 256 values, ~330 KB)
  case $t in gguf|safetensors) max_len=1048576 ;; json) max_len=131072 ;; model) max_len=524288 ;; *) max_len=4096 ;; esac
  dict=""
  [ -f "tests/fuzz/$t.dict" ] && dict="-dict=$root/tests/fuzz/$t.dict"
  echo "== fuzz_$t for ${secs}s"
  par=""
  [ "$jobs" -gt 1 ] && par="-jobs=$jobs -workers=$jobs"   # job logs (fuzz-N.log) go to the cwd: build/fuzz/logs-<name>
  rm -rf "build/fuzz/logs-$t"; mkdir -p "build/fuzz/logs-$t"
  # the first directory receives new inputs; the others are read-only seeds
  # shellcheck disable=SC2086
  if ! (cd "build/fuzz/logs-$t" && "$root/build/fuzz/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -malloc_limit_mb=512 -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$root/$art/" $par $dict ${SP_FUZZ_FLAGS:-} \
      "$root/$work" "$root/build/fuzz/corpus/$t" "$root/tests/fuzz/regressions/$t") > "build/fuzz/fuzz_$t.log" 2>&1; then
    echo "fuzz_$t: FAILED (log: build/fuzz/fuzz_$t.log, inputs: $art/)" >&2
    grep -hE 'ERROR|SUMMARY|fuzz property|runtime error|Test unit written' "build/fuzz/fuzz_$t.log" build/fuzz/logs-$t/*.log 2>/dev/null | head -20 >&2 || true
    status=1
  else
    if [ -n "$par" ]; then logs=$(ls build/fuzz/logs-$t/fuzz-*.log); else logs=build/fuzz/fuzz_$t.log; fi
    # shellcheck disable=SC2086
    cat $logs | grep -E '^stat::number_of_executed_units|^stat::new_units_added' | tr '\n' ' ' || true
    echo
  fi
done
exit $status
