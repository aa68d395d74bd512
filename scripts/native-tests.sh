#!/usr/bin/env bash
# Builds the C++ kernel tests (native/tests) under AddressSanitizer and UndefinedBehaviorSanitizer
# and runs them with CTest. Needs cmake and g++ with libasan/libubsan (gcc's own); no Node.
#   bash scripts/native-tests.sh                  sanitized, in build-ctest/
#   BP_SANITIZE=OFF bash scripts/native-tests.sh  plain optimised build, in build-ctest-plain/
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize="${BP_SANITIZE:-ON}"
build_dir=build-ctest
[ "$sanitize" = ON ] || build_dir=build-ctest-plain

cmake -S native/tests -B "$build_dir" -DBP_SANITIZE="$sanitize" >/dev/null
cmake --build "$build_dir" -j 2
# halt_on_error and abort give a non-zero exit with the report; LeakSanitizer runs at exit.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$build_dir" --output-on-failure -j 2
