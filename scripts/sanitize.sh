#!/usr/bin/env bash
# Builds the addon with AddressSanitizer + UndefinedBehaviorSanitizer (plus float-cast-overflow,
# which -fsanitize=undefined leaves out) in a temporary copy of the
# work tree (the repo's own build/ is untouched) and runs, with the ASan runtime preloaded into
# node:
#   1. the native tests (any sanitizer report aborts the test process, which fails the run);
#   2. scripts/sanitize-stress.mjs: valid calls of every kernel with random geometry and exactly
#      sized arrays, on every SIMD level and both GEMM paths.
# Only reports whose stack is in backprop.node matter: node itself is not built with ASan, and
# leak checking is off because node does not free everything at exit. Needs gcc (libasan,
# libubsan) and the repo's node_modules. Not part of npm test or CI: run it by hand, about 2-3
# minutes on 2 cores. Exits non-zero when a step fails; the logs stay in the printed folder.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/backprop-sanitize.XXXXXX")"
die() { echo "sanitize: FAILED: $*"; echo "logs: $work"; exit 1; }

asan="$(gcc -print-file-name=libasan.so)"
[[ "$asan" == /* && -e "$asan" ]] || die "gcc has no libasan.so (install libasan/libubsan for gcc)"
[[ -d "$repo/node_modules" ]] || die "$repo/node_modules is missing: run npm ci first"

echo "== copy the work tree (tracked files, uncommitted edits included) to $work/repo"
mkdir -p "$work/repo"
(cd "$repo" && git ls-files -z | xargs -0 cp --parents -t "$work/repo") || die "copy"
ln -s "$repo/node_modules" "$work/repo/node_modules"
cd "$work/repo" || die "cd $work/repo"

echo "== build with -fsanitize=address,undefined,float-cast-overflow"
node -e '
  const fs = require("fs");
  const gyp = JSON.parse(fs.readFileSync("binding.gyp", "utf8"));
  const sanitize = ["-fsanitize=address,undefined,float-cast-overflow", "-fno-omit-frame-pointer", "-g", "-O1"];
  for (const t of gyp.targets) {
    for (const key of ["cflags", "cflags_cc"]) t[key] = t[key].filter((f) => f !== "-O3").concat(sanitize);
    t.ldflags = (t.ldflags || []).concat(["-fsanitize=address,undefined,float-cast-overflow"]);
  }
  fs.writeFileSync("binding.gyp", JSON.stringify(gyp, null, 2));
' || die "patch binding.gyp"
npm_config_nodedir="${npm_config_nodedir:-/usr}" npm run build:native >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log"; die "npm run build:native"; }
addon="$work/repo/build/Release/backprop.node"
ldd "$addon" | grep -q libasan || die "$addon is not linked with libasan"
if grep -E 'warning:' "$work/build.log"; then die "the sanitizer build has warnings"; fi

export LD_PRELOAD="$asan"
export ASAN_OPTIONS=detect_leaks=0,abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1,halt_on_error=1
unset BACKPROP_BLAS BACKPROP_BACKEND BACKPROP_SIMD

echo "== native tests under ASan/UBSan"
npx vitest run test/native-fuzz.test.ts test/native-vs-js-*.test.ts test/native-workers.test.ts \
  test/native-simd.test.ts test/conv.test.ts test/pool.test.ts test/batchnorm.test.ts \
  test/rnn-values-and-gradients.test.ts test/rnn-options.test.ts test/rnn-training.test.ts test/rnn-torch.test.ts \
  >"$work/vitest.log" 2>&1
status=$?
grep -aE 'Test Files|Tests ' "$work/vitest.log"
if grep -aqE 'AddressSanitizer|runtime error:' "$work/vitest.log" || ((status != 0)); then
  grep -aE -A25 'ERROR: AddressSanitizer|runtime error:' "$work/vitest.log" | head -60
  die "native tests (log: $work/vitest.log)"
fi

echo "== random valid calls under ASan/UBSan"
node "$repo/scripts/sanitize-stress.mjs" "$addon" 1 200 >"$work/stress.log" 2>&1 ||
  { tail -60 "$work/stress.log"; die "sanitize-stress (log: $work/stress.log)"; }
head -1 "$work/stress.log"

echo "sanitize: PASSED (no sanitizer report)"
rm -rf "$work"
