// The op registry against everything that restates it: the op-code name lists (the codes the
// kernels switch on), both backends' kernels, and the addon's own name lists. A name renamed or
// an op reordered on one side only fails here.

import { describe, expect, test } from 'vitest';
import '../lib/index.js'; // registers every op
import { registeredOps, type OpDef } from '../lib/ops/registry.js';
import { BINARY_OPS, KERNEL_NAMES, OP_FAMILIES, REDUCE_OPS, RNN_CELLS, UNARY_OPS } from '../lib/backend/types.js';
import { jsBackend } from '../lib/backend/js.js';
import { tryLoadNative } from './support/native.js';

const { native, loadError } = tryLoadNative();
const ops = registeredOps();

/** The op-code list an op's code indexes, by the kernel its forward runs first. */
function familyOf(op: OpDef): readonly string[] | null {
  switch (op.kernels[0]) {
    case 'unary':
      return UNARY_OPS;
    case 'binary':
    case 'binaryScalar':
      return BINARY_OPS;
    case 'reduce':
      return REDUCE_OPS;
    case 'gemm':
      return op.name.startsWith('recurrence(') ? RNN_CELLS : null;
    default:
      return null;
  }
}

describe('the op registry', () => {
  test('every op has a unique id, a rule or none, and a fused backward only beside a rule', () => {
    expect(new Set(ops.map((o) => o.id)).size).toBe(ops.length);
    for (const op of ops) {
      expect(op.rule === null || typeof op.rule === 'function', op.id).toBe(true);
      if (op.fused !== undefined) expect(typeof op.rule, `${op.id} has fused but no rule`).toBe('function');
      expect(op.dtypes.length, op.id).toBeGreaterThan(0);
    }
  });

  test("an op's code is its name's index in its family's list", () => {
    for (const op of ops) {
      if (op.code === undefined) continue;
      const family = familyOf(op);
      expect(family, `${op.id}: code ${op.code} but no op-code family`).not.toBeNull();
      const listed = family![op.code];
      const own = op.name.startsWith('recurrence(') ? op.name.slice('recurrence('.length, -1) : op.name;
      expect(listed, `${op.id}: code ${op.code}`).toBe(own);
    }
  });

  test('every unary and binary op code has a registered op (and binary ones a scalar form)', () => {
    const ids = new Set(ops.map((o) => o.id));
    for (const name of UNARY_OPS) expect(ids.has(name), `unary op '${name}' is not registered`).toBe(true);
    for (const name of BINARY_OPS) {
      expect(ids.has(name), `binary op '${name}' is not registered`).toBe(true);
      expect(ids.has(`${name}Scalar`), `binary op '${name}Scalar' is not registered`).toBe(true);
    }
    for (const cell of RNN_CELLS) expect(ids.has(`recurrence(${cell})`), cell).toBe(true);
  });

  test('every kernel an op uses, forward or fused, exists in the js backend', () => {
    for (const op of ops) {
      for (const k of [...op.kernels, ...(op.fusedKernels ?? [])]) {
        expect(KERNEL_NAMES as readonly string[], `${op.id} uses '${k}'`).toContain(k);
        expect(typeof jsBackend[k], `js backend lacks ${k}`).toBe('function');
      }
    }
  });

  test('the js backend implements exactly KERNEL_NAMES', () => {
    const kernels = Object.keys(jsBackend).filter((k) => !['name', 'info', 'setNumThreads'].includes(k));
    expect(kernels.sort()).toEqual([...KERNEL_NAMES].sort());
  });
});

describe.skipIf(!native)(`the addon agrees with the registry${native ? '' : ` (SKIPPED: ${loadError})`}`, () => {
  test("its op-code name lists equal the registry's, in order", () => {
    const names = native!._opNames();
    expect(Object.keys(names).sort()).toEqual(Object.keys(OP_FAMILIES).sort());
    for (const [family, list] of Object.entries(OP_FAMILIES)) {
      expect(names[family as keyof typeof OP_FAMILIES], family).toEqual([...list]);
    }
  });

  test('it exports every kernel of KERNEL_NAMES and no other kernel', () => {
    const exported = Object.keys(native!).filter(
      (k) => !k.startsWith('_') && !['name', 'info', 'setNumThreads'].includes(k),
    );
    expect(exported.sort()).toEqual([...KERNEL_NAMES].sort());
  });
});
