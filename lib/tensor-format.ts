// Printing like torch: values (elided past 1000 elements, first and last 3 per dim), then
// shape, dtype and autograd state.

import type { Tensor } from './tensor.js';
import { DTYPES } from './dtype.js';

const THRESHOLD = 1000;
const EDGE = 3;

export function formatTensor(t: Tensor): string {
  const { shape } = t;
  const info = DTYPES[t.dtype];
  // The 16-bit floats print their values (decoded from the raw bits).
  const data = info.kind === 'float' && !info.kernel ? Array.from(t.data, info.decode) : t.data;
  const elide = data.length > THRESHOLD;
  // Collect the shown values first, to choose one number format for all of them.
  const shown: number[] = [];
  walk(shape, 0, 0, elide, (i) => shown.push(data[i]));
  const fmt = info.kind === 'bool' ? (v: number): string => (v ? 'True' : 'False') : chooseFormat(shown);
  const width = shown.reduce((w, v) => Math.max(w, fmt(v).length), 0);
  const cell = (i: number): string => fmt(data[i]).padStart(width);
  let body: string;
  if (shape.length === 0) body = fmt(data[0]);
  else body = formatDim(shape, 0, 0, elide, cell, 'tensor('.length);
  const extras = [`shape=[${shape.join(', ')}]`, `dtype=${t.dtype}`];
  if (t.gradFn !== null) extras.push(`gradFn=<${t.gradFn.name}>`);
  else if (t.requiresGrad) extras.push('requiresGrad=true');
  return `tensor(${body}, ${extras.join(', ')})`;
}

function strides(shape: readonly number[], dim: number): number {
  let s = 1;
  for (let i = dim + 1; i < shape.length; i++) s *= shape[i];
  return s;
}

function shownIndices(n: number, elide: boolean): (number | null)[] {
  if (!elide || n <= 2 * EDGE) return Array.from({ length: n }, (_, i) => i);
  const out: (number | null)[] = [];
  for (let i = 0; i < EDGE; i++) out.push(i);
  out.push(null);
  for (let i = n - EDGE; i < n; i++) out.push(i);
  return out;
}

function walk(shape: readonly number[], dim: number, offset: number, elide: boolean, visit: (i: number) => void): void {
  if (shape.length === 0) {
    visit(0);
    return;
  }
  const stride = strides(shape, dim);
  for (const i of shownIndices(shape[dim], elide)) {
    if (i === null) continue;
    if (dim === shape.length - 1) visit(offset + i);
    else walk(shape, dim + 1, offset + i * stride, elide, visit);
  }
}

function formatDim(
  shape: readonly number[],
  dim: number,
  offset: number,
  elide: boolean,
  cell: (i: number) => string,
  indent: number,
): string {
  const stride = strides(shape, dim);
  const idx = shownIndices(shape[dim], elide);
  if (dim === shape.length - 1) {
    return `[${idx.map((i) => (i === null ? '...' : cell(offset + i))).join(', ')}]`;
  }
  const pad = ' '.repeat(indent + 1);
  const sep = ',' + '\n'.repeat(shape.length - dim - 1) + pad;
  const parts = idx.map((i) =>
    i === null ? '...' : formatDim(shape, dim + 1, offset + i * stride, elide, cell, indent + 1),
  );
  return `[${parts.join(sep)}]`;
}

function chooseFormat(values: number[]): (v: number) => string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.every((v) => Number.isInteger(v)) && finite.every((v) => Math.abs(v) < 1e8)) {
    return (v) => (Number.isFinite(v) ? `${v}.` : String(v).replace('Infinity', 'inf').replace('NaN', 'nan'));
  }
  const absNonZero = finite.map(Math.abs).filter((v) => v > 0);
  const maxAbs = Math.max(0, ...absNonZero);
  const minAbs = absNonZero.length ? Math.min(...absNonZero) : 0;
  const sci = maxAbs >= 1e8 || (minAbs > 0 && minAbs < 1e-4) || (minAbs > 0 && maxAbs / minAbs >= 1e3 && maxAbs >= 1e3);
  return (v) => {
    if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
    return sci ? v.toExponential(4) : v.toFixed(4);
  };
}
