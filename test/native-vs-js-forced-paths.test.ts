// The environment variables that force a native path at load time (BACKPROP_SIMD, BACKPROP_BLAS):
// a child process loads the addon with each, reports info(), and runs a GEMM and an exp, which are
// compared with the js backend.
//
// The tolerances: test/support/native-vs-js.ts.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { jsBackend as js } from '../lib/backend/js.js';
import { UnaryOp } from '../lib/backend/types.js';
import { expectClose, native, simdLevels, skipReason, tol } from './support/native-vs-js.js';

describe.skipIf(!native)(`native vs js: paths forced by environment variables${skipReason}`, () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = `
    const addon = require('node-gyp-build')(${JSON.stringify(root)});
    const a = Float32Array.from({ length: 33 * 65 }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: 65 * 17 }, (_, i) => Math.cos(i));
    const c = new Float32Array(33 * 17);
    addon.gemm(false, false, 33, 17, 65, 1, a, b, 0, c);
    const x = Float32Array.from({ length: 37 }, (_, i) => i / 3 - 6);
    const y = new Float32Array(37);
    addon.unary(5, x, y, 0, 0);
    process.stdout.write(JSON.stringify({ info: addon.info(), c: Array.from(c), y: Array.from(y) }));`;
  const run = (env: Record<string, string>): { info: { blas: string; simd: string }; c: number[]; y: number[] } => {
    const out = execFileSync(process.execPath, ['-e', child], {
      env: { ...process.env, BACKPROP_SIMD: '', BACKPROP_BLAS: '', ...env },
      encoding: 'utf8',
    });
    return JSON.parse(out);
  };
  const a = Float64Array.from({ length: 33 * 65 }, (_, i) => Math.fround(Math.sin(i)));
  const b = Float64Array.from({ length: 65 * 17 }, (_, i) => Math.fround(Math.cos(i)));
  const cRef = new Float64Array(33 * 17);
  js.gemm(false, false, 33, 17, 65, 1, a, b, 0, cRef);
  const cScale = new Float64Array(33 * 17);
  js.gemm(false, false, 33, 17, 65, 1, a.map(Math.abs), b.map(Math.abs), 0, cScale);
  const x = Float64Array.from({ length: 37 }, (_, i) => Math.fround(i / 3 - 6));
  const yRef = new Float64Array(37);
  js.unary(UnaryOp.exp, x, yRef, 0, 0);

  const cases: Record<string, string>[] = [
    ...simdLevels.map((level) => ({ BACKPROP_SIMD: level })),
    { BACKPROP_BLAS: 'builtin' },
    { BACKPROP_BLAS: 'builtin', BACKPROP_SIMD: 'scalar' },
  ];
  for (const env of cases) {
    it(
      Object.entries(env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
      () => {
        const r = run(env);
        if (env.BACKPROP_SIMD) expect(r.info.simd).toBe(env.BACKPROP_SIMD);
        if (env.BACKPROP_BLAS === 'builtin') expect(r.info.blas).toBe('builtin');
        expectClose('gemm', r.c, cRef, tol.gemm.float32, 1e-300, cScale);
        expectClose('exp', r.y, yRef, ...tol.unary.float32);
      },
    );
  }
});
