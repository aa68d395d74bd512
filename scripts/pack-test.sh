#!/usr/bin/env bash
# Packs backprop as users get it and checks that the shipped prebuild works with no compiler step,
# no install scripts and no OpenBLAS on the machine:
#   1. npm run build:ts (dist/ ships) and npm run prebuild (prebuilds/linux-x64/*.node ships);
#   2. the prebuild has no link-time dependency on OpenBLAS (readelf, ldd);
#   3. npm pack; npm install <tarball> --ignore-scripts into a fresh folder;
#   4. with OpenBLAS present and named by BACKPROP_BLAS: backend.info() says native + openblas (the control);
#   5. in a private mount namespace where every OpenBLAS library file is replaced by an empty file
#      (and dlopen of each name the addon tries is checked to fail): backend.info() says native +
#      builtin, and GEMMs through the backend equal a naive product.
# Run from anywhere as root (CI), or as a user allowed `unshare -r -m`. Prints PASS/FAIL lines and
# exits non-zero when any check fails.
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/backprop-pack-test.XXXXXX")"
trap 'rm -rf "$work"' EXIT
failures=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
die() { echo "FAIL: $*"; echo "pack-test: FAILED (stopped early)"; exit 1; }

# Library names the addon tries, in native/blas.cc's order (a bare name searches the library path).
blas_names=(libopenblas.so.0 libopenblas.so libopenblasp.so.0 libopenblasp.so libopenblaso.so.0)

cd "$repo" || die "cannot cd to $repo"
unset BACKPROP_BLAS BACKPROP_BACKEND BACKPROP_SIMD

echo "== build"
npm run build:ts >"$work/build-ts.log" 2>&1 || { cat "$work/build-ts.log"; die "npm run build:ts"; }
pass "npm run build:ts"
rm -rf prebuilds
npm run prebuild >"$work/prebuild.log" 2>&1 || { cat "$work/prebuild.log"; die "npm run prebuild"; }
shopt -s nullglob
prebuilds=(prebuilds/linux-x64/*.node)
shopt -u nullglob
[ "${#prebuilds[@]}" -ge 1 ] || die "npm run prebuild made no prebuilds/linux-x64/*.node"
pass "npm run prebuild made ${prebuilds[*]}"

echo "== the prebuild links no BLAS"
for node_file in "${prebuilds[@]}"; do
  needed="$(readelf -d "$node_file" | grep NEEDED || true)"
  echo "$needed" | sed 's/^/   /'
  if echo "$needed" | grep -qi 'blas'; then
    fail "$node_file has a NEEDED entry for a BLAS library"
  else
    pass "$node_file: no BLAS in its NEEDED entries (readelf -d)"
  fi
  if ldd "$node_file" | grep -qi 'blas'; then
    fail "$node_file: ldd resolves a BLAS library: $(ldd "$node_file" | grep -i blas)"
  else
    pass "$node_file: ldd lists no BLAS library"
  fi
done

echo "== npm pack"
tarball_name="$(npm pack --pack-destination "$work" --loglevel=error 2>"$work/pack.log" | tail -n1)"
tarball="$work/$tarball_name"
[ -n "$tarball_name" ] && [ -f "$tarball" ] || { cat "$work/pack.log"; die "npm pack produced no tarball"; }
listing="$(tar -tzf "$tarball")"
for want in package/dist/index.js package/dist/backend/native.js package/dist/cli.js package/binding.gyp \
  package/native/addon.cc package/README.md package/package.json; do
  if echo "$listing" | grep -qx "$want"; then pass "tarball contains $want"; else fail "tarball lacks $want"; fi
done
if echo "$listing" | grep -q '^package/data/.'; then pass "tarball contains data/ (the bundled sample)"; else fail "tarball lacks data/"; fi
if echo "$listing" | grep -q '^package/prebuilds/linux-x64/.*\.node$'; then
  pass "tarball contains a linux-x64 prebuild"
else
  fail "tarball lacks prebuilds/linux-x64/*.node"
fi
if echo "$listing" | grep -q '^package/build/'; then
  fail "tarball contains build/ (a local build would shadow the prebuild)"
else
  pass "tarball has no build/ directory, so the installed package can only load the prebuild"
fi

echo "== install into a fresh folder, install scripts blocked"
app="$work/app"
mkdir -p "$app"
(cd "$app" && npm init -y >/dev/null && npm pkg set type=module >/dev/null) || die "npm init in $app"
(cd "$app" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error "$tarball") >"$work/install.log" 2>&1 \
  || { cat "$work/install.log"; die "npm install $tarball_name --ignore-scripts"; }
[ ! -e "$app/node_modules/backprop/build" ] || fail "node_modules/backprop/build exists: something compiled during install"
pass "npm install --ignore-scripts $tarball_name"

# The check run by node in the fresh folder. Argument: the blas kind expected ('openblas' | 'builtin').
cat >"$app/check.mjs" <<'EOF'
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const expectBlas = process.argv[2];
let failed = 0;
const pass = (m) => console.log(`PASS: ${m}`);
const fail = (m) => { console.log(`FAIL: ${m}`); failed++; };
const warnings = [];
process.on('warning', (w) => warnings.push(w.message));

const lib = await import('backprop');
const { backend } = lib;
const info = backend.info();
console.log(`   backend.info() = ${JSON.stringify(info)}`);
if (info.name === 'native') pass('backend.info().name is native');
else fail(`backend.info().name is ${info.name}; the native addon failed: ${backend.nativeError?.() ?? '?'}`);
const blasOk = expectBlas === 'builtin' ? info.blas === 'builtin' : info.blas.startsWith('openblas');
if (blasOk) pass(`backend.info().blas is ${info.blas} (expected ${expectBlas})`);
else fail(`backend.info().blas is ${info.blas}, expected ${expectBlas}`);

// A GEMM through the selected backend's kernels, against a naive triple loop.
const { kernels } = await import(pathToFileURL(join(process.cwd(), 'node_modules/backprop/dist/backend/index.js')).href);
const k = kernels();
for (const [m, n, kk] of [[3, 4, 5], [67, 45, 129], [256, 256, 256]]) {
  const a = Float32Array.from({ length: m * kk }, (_, i) => ((i * 7919) % 23) / 11 - 1);
  const b = Float32Array.from({ length: kk * n }, (_, i) => ((i * 104729) % 29) / 13 - 1);
  const c = new Float32Array(m * n);
  k.gemm(false, false, m, n, kk, 1, a, b, 0, c);
  let worst = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0, scale = 0;
    for (let p = 0; p < kk; p++) { s += a[i * kk + p] * b[p * n + j]; scale += Math.abs(a[i * kk + p] * b[p * n + j]); }
    worst = Math.max(worst, Math.abs(c[i * n + j] - s) / (scale + 1e-30));
  }
  if (worst <= 1e-5) pass(`${k.name} gemm ${m}x${n}x${kk} equals the naive product (worst error ${worst.toExponential(2)} of sum |a||b|)`);
  else fail(`${k.name} gemm ${m}x${n}x${kk} differs from the naive product (worst error ${worst.toExponential(2)} of sum |a||b|)`);
}

// The same through the public API, when Tensor.matmul is there.
if (typeof lib.tensor === 'function') {
  try {
    const x = lib.tensor([[1, 2, 3], [4, 5, 6]]);
    const w = lib.tensor([[7, 8], [9, 10], [11, 12]]);
    const got = x.matmul(w).toArray();
    if (JSON.stringify(got) === JSON.stringify([[58, 64], [139, 154]])) pass('tensor([[1,2,3],[4,5,6]]).matmul(...) gives [[58,64],[139,154]]');
    else fail(`matmul gave ${JSON.stringify(got)}`);
  } catch (e) {
    fail(`public matmul threw: ${e.message}`);
  }
} else {
  fail("the package exports no tensor(): the public-API GEMM was not checked");
}
if (warnings.length === 0) pass('no warning was emitted');
else fail(`warnings: ${warnings.join(' | ')}`);
process.exit(failed ? 1 : 0);
EOF

# Every file that is or links to an OpenBLAS library: what ldconfig lists, any libopenblas*.so*
# on disk, and libblas/liblapack where the alternatives point them at OpenBLAS.
mapfile -t blas_files < <(
  {
    ldconfig -p | grep -i 'openblas' | awk -F'=> ' '{print $2}'
    find /lib /lib64 /usr/lib /usr/lib64 /usr/local/lib -name 'libopenblas*.so*' 2>/dev/null
    for f in $(ldconfig -p | grep -E 'lib(blas|lapack|cblas)\.so' | awk -F'=> ' '{print $2}'); do
      readlink -f "$f" | grep -i openblas
    done
  } | while read -r f; do [ -e "$f" ] && readlink -f "$f"; done | sort -u
)
[ "${#blas_files[@]}" -ge 1 ] || echo "   (no OpenBLAS files found on this machine: the test runs without hiding anything)"

echo "== control run, OpenBLAS visible"
if [ "${#blas_files[@]}" -ge 1 ]; then
  # BACKPROP_BLAS names it: on AVX-512 CPUs the built-in GEMM is the default even where OpenBLAS loads.
  (cd "$app" && BACKPROP_BLAS=libopenblas.so.0 node check.mjs openblas) || failures=$((failures + 1))
else
  echo "   (skipped: this machine has no OpenBLAS, so only the run below applies)"
fi

echo "== OpenBLAS made invisible (private mount namespace, empty files bound over it)"
printf '   hiding %s\n' "${blas_files[@]}"
: >"$work/empty"
if [ "$(id -u)" = 0 ]; then ns=(unshare -m --propagation private); else ns=(unshare -r -m --propagation private); fi

cat >"$work/hidden.sh" <<EOF
set -u
for f in ${blas_files[*]}; do mount --bind "$work/empty" "\$f" || { echo "FAIL: cannot bind-mount over \$f"; exit 1; }; done
# dlopen of each name the addon tries must now fail (process.dlopen of a bare name searches the
# library path like the addon does; "did not self-register" would mean the library loaded).
for name in ${blas_names[*]}; do
  msg="\$(node -e "try { process.dlopen({ exports: {} }, '\$name'); console.log('LOADED') } catch (e) { console.log(e.message.split('\\n')[0]) }")"
  case "\$msg" in
    *LOADED*|*self-register*) echo "FAIL: dlopen('\$name') still loads: \$msg"; exit 1 ;;
    *) echo "PASS: dlopen('\$name') fails: \$msg" ;;
  esac
done
cd "$app" && node check.mjs builtin
EOF
# The same dlopen probe outside the namespace shows that the probe can see a loadable library.
probe="$(node -e "try { process.dlopen({ exports: {} }, 'libopenblas.so.0'); console.log('LOADED') } catch (e) { console.log(e.message.split('\n')[0]) }")"
case "$probe" in
  *LOADED*|*self-register*) pass "control: outside the namespace dlopen('libopenblas.so.0') loads ($probe)" ;;
  *) echo "   note: outside the namespace dlopen('libopenblas.so.0') fails too: $probe" ;;
esac
"${ns[@]}" bash "$work/hidden.sh" || failures=$((failures + 1))

echo
if [ "$failures" -eq 0 ]; then
  echo "pack-test: ALL PASSED"
else
  echo "pack-test: FAILED ($failures failing step(s))"
  exit 1
fi
