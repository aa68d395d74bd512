// `npm run bench -- activations`: relu, sigmoid, tanh, gelu and exp over 1M float32 values,
// native (each SIMD level this CPU has, 1 and 2 threads) against the js backend.
// Target: native at least 4x the js backend. Needs `npm run compile` first.
import { bestTime, fmt, loadBackends, machineLine, randomFloat32, table } from './_common.js';

const N = 1_000_000;
/** @type {('relu' | 'sigmoid' | 'tanh' | 'gelu' | 'exp')[]} */
const OPS = ['relu', 'sigmoid', 'tanh', 'gelu', 'exp'];

/** @param {Awaited<ReturnType<typeof loadBackends>>} backends */
export async function runActivations({ js, native, hooks, UnaryOp }) {
  const x = randomFloat32(N, 7).map((v) => v * 4);
  const y = new Float32Array(N);
  /** @type {(backend: import('./_common.js').Backend, op: import('../dist/backend/types.js').UnaryOp) => number} */
  const time = (backend, op) => bestTime(() => backend.unary(op, x, y, 0, 0), { minSeconds: 0.2, minReps: 3 }) * 1e3;
  const levels = native && hooks ? hooks._simdLevels() : [];
  const defaultSimd = native?.info().simd;
  const header = ['op', 'js ms'];
  for (const level of levels) header.push(`${level} ms (1 thr)`, `${level} speedup`);
  if (native) header.push(`${defaultSimd} ms (2 thr)`, `${defaultSimd} speedup (2 thr)`);
  const rows = [];
  const misses = [];
  for (const name of OPS) {
    const op = UnaryOp[name];
    const jsMs = time(js, op);
    const row = [name, fmt(jsMs, 2)];
    if (native && hooks && defaultSimd) {
      native.setNumThreads(1);
      for (const level of levels) {
        hooks._setSimd(level);
        const ms = time(native, op);
        row.push(fmt(ms, 3), `${fmt(jsMs / ms)}x`);
        if (level === defaultSimd && jsMs / ms < 4) misses.push(`${name} (${fmt(jsMs / ms)}x)`);
      }
      hooks._setSimd(defaultSimd);
      native.setNumThreads(2);
      const ms2 = time(native, op);
      row.push(fmt(ms2, 3), `${fmt(jsMs / ms2)}x`);
    }
    rows.push(row);
  }
  console.log(`# Activations, ${N.toLocaleString('en')} float32 values, best time\n`);
  console.log(table(header, rows));
  if (native) {
    console.log(
      `\nTarget: native (${defaultSimd}, 1 thread) >= 4x js: ${misses.length ? `MISS for ${misses.join(', ')}` : 'MET for every op'}`,
    );
  } else {
    console.log('\n(native addon not loaded: no comparison)');
  }
}

export async function main() {
  console.log(`${machineLine()}\n`);
  const backends = await loadBackends();
  if (!backends.native) console.log(`(the native addon did not load: ${backends.nativeError})\n`);
  await runActivations(backends);
}
