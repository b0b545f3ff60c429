#!/usr/bin/env bash
# Builds and runs the libFuzzer harnesses of test/fuzz (ctest's fuzz tests and
# `ops/squall fuzz` both come here).
#
#   run.sh list                              the harnesses (test/fuzz/<name>_fuzz.c)
#   run.sh build SRC_DIR BUILD_DIR [CLANG]   configure (SQ_FUZZ=ON, clang) and build
#   run.sh run BUILD_DIR HARNESS SECONDS     one libFuzzer run of fuzz_HARNESS
#
# A run reads the seeds in test/fuzz/corpus/HARNESS and the crashes of the past in
# test/fuzz/regress/HARNESS (never written), and keeps what it learns in
# BUILD_DIR/work/corpus/HARNESS, so the next run starts from there. Its log is
# BUILD_DIR/work/HARNESS.log; a crash, leak, timeout or broken property leaves its input in
# BUILD_DIR/work/artifacts/HARNESS/ and fails the run (exit status 1): copy the input into
# test/fuzz/regress/HARNESS/ with the fix, so the normal build replays it for ever.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() { printf 'fuzz: error: %s\n' "$*" >&2; exit 2; }

cmd_build() {
  local src=$1 dir=$2 cc=${3:-clang}
  command -v "$cc" >/dev/null 2>&1 || die "no $cc: the fuzz build needs clang (Debian packages clang, libclang-rt-dev)"
  cmake -S "$src" -B "$dir" -DCMAKE_C_COMPILER="$cc" -DSQ_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build "$dir" -j "$(nproc 2>/dev/null || echo 2)"
}

cmd_run() {
  local dir=$1 h=$2 secs=$3
  local bin="$dir/test/fuzz/fuzz_$h" work="$dir/work"
  local corpus="$work/corpus/$h" art="$work/artifacts/$h" log="$work/$h.log"
  local inputs=("$corpus" "$HERE/corpus/$h") rc=0
  [[ -x $bin ]] || die "no $bin: build first (run.sh build)"
  [[ $secs =~ ^[0-9]+$ ]] || die "bad seconds '$secs'"
  [[ -d $HERE/regress/$h ]] && inputs+=("$HERE/regress/$h")
  mkdir -p "$corpus" "$art"
  # abort on the first finding of any sanitizer; libFuzzer checks leaks itself
  export ASAN_OPTIONS="abort_on_error=1:allocator_may_return_null=1:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  printf 'fuzz: %s for %s s (log %s)\n' "$h" "$secs" "$log"
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 -artifact_prefix="$art/" "${inputs[@]}" >"$log" 2>&1 || rc=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+[[:space:]]+DONE)' "$log" | sed "s/^/fuzz: $h: /" || true
  if (( rc != 0 )); then
    tail -n 60 "$log" >&2
    printf 'fuzz: %s FAILED (exit %d); inputs kept in %s:\n' "$h" "$rc" "$art" >&2
    ls -1 "$art" >&2 || true
    printf 'fuzz: add the input to %s/regress/%s/ together with the fix\n' "$HERE" "$h" >&2
    return 1
  fi
  return 0
}

case ${1:-} in
  list)  for f in "$HERE"/*_fuzz.c; do f=${f##*/}; printf '%s\n' "${f%_fuzz.c}"; done ;;
  build) shift; (( $# >= 2 )) || die "usage: run.sh build SRC_DIR BUILD_DIR [CLANG]"; cmd_build "$@" ;;
  run)   shift; (( $# == 3 )) || die "usage: run.sh run BUILD_DIR HARNESS SECONDS"; cmd_run "$@" ;;
  *)     die "usage: run.sh list|build|run ..." ;;
esac
