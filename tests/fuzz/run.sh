#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: the fuzzing runner. Configures tests/fuzz/ with clang, builds, then runs every
# fuzz_<name> target for a fixed budget on a seed corpus (tests/fuzz/seeds/<name>/* if present, plus what
# seed_<name> writes). Fails on any crash, sanitizer report, leak, timeout or out-of-memory; prints each
# target's execution count.   Usage: tests/fuzz/run.sh [seconds-per-target (default 60)]
#   env: UNROLL_FUZZ_BUILD (build folder, default <repo>/build-fuzz), UNROLL_FUZZ_ONLY (one target name),
#        UNROLL_FUZZ_LIB_DIRS (library folders to compile, ';'-separated; default all of them)
set -euo pipefail
seconds="${1:-60}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${UNROLL_FUZZ_BUILD:-$root/build-fuzz}"

CC=clang CXX=clang++ cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DUNROLL_FUZZ_LIB_DIRS="${UNROLL_FUZZ_LIB_DIRS:-graph;ops;autodiff;models;models/strategies;io;train}" >/dev/null
if [[ -n "${UNROLL_FUZZ_ONLY:-}" ]]; then  # build just that target (and its seed generator)
  only="${UNROLL_FUZZ_ONLY#fuzz_}"
  targets=(--target "fuzz_$only")
  if [[ -f "$here/seed_$only.cpp" ]]; then targets+=(--target "seed_$only"); fi
  cmake --build "$build" -j2 "${targets[@]}"
else
  cmake --build "$build" -j2
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
summary=""
for src in "$here"/fuzz_*.cpp; do
  target="$(basename "$src" .cpp)"
  name="${target#fuzz_}"
  if [[ -n "${UNROLL_FUZZ_ONLY:-}" && "$UNROLL_FUZZ_ONLY" != "$target" && "$UNROLL_FUZZ_ONLY" != "$name" ]]; then
    continue
  fi
  corpus="$build/corpus/$target"
  artifacts="$build/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  if [[ -d "$here/seeds/$name" ]]; then cp -f "$here/seeds/$name"/* "$corpus"/ 2>/dev/null || true; fi
  if [[ -x "$build/seed_$name" ]]; then "$build/seed_$name" "$corpus"; fi
  log="$build/$target.log"
  echo "== $target: ${seconds}s, corpus $(ls "$corpus" | wc -l) files"
  set +e
  "$build/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  if [[ $rc -ne 0 ]]; then
    echo "FAIL $target (exit $rc) after $runs executions; last lines of $log:"
    tail -40 "$log"
    ls "$artifacts"
    status=1
    summary+="FAIL $target: $runs executions"$'\n'
  else
    summary+="ok   $target: $runs executions in ${seconds}s"$'\n'
  fi
done
echo "== fuzzing summary"
printf '%s' "$summary"
exit $status
