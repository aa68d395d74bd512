// Whether onnx.checker can run here: PYTHON (see torch.ts) importing Debian's python3-onnx.
// BACKPROP_REQUIRE_ONNX=1 (set by .ci/run, which installs python3-onnx) turns the skip into a
// failure that carries the reason.

import { spawnSync } from 'node:child_process';
import { PYTHON } from './torch.js';

let checked: { ok: boolean; why: string } | undefined;

export function onnxCheckerHere(): boolean {
  if (checked === undefined) {
    const r = spawnSync(PYTHON, ['-c', 'import onnx'], { encoding: 'utf8', timeout: 60_000 });
    const lastLine = (r.stderr ?? '').trim().split('\n').pop() ?? '';
    const why = r.error
      ? `${PYTHON} cannot run: ${r.error.message}`
      : r.status === 0
        ? ''
        : `${PYTHON} -c 'import onnx' exited with ${r.status ?? r.signal}: ${lastLine}`;
    checked = { ok: why === '', why };
  }
  if (!checked.ok && process.env.BACKPROP_REQUIRE_ONNX === '1') {
    throw new Error(`BACKPROP_REQUIRE_ONNX=1, but the onnx.checker tests would be skipped: ${checked.why}`);
  }
  return checked.ok;
}

/** What onnx reads back from one file. */
export interface OnnxFileInfo {
  initializers: string[];
  inputs: (number | string)[][];
  outputs: (number | string)[][];
  opset: number;
}

/**
 * Runs onnx.checker.check_model (full_check: shape inference too) on each file (one python run:
 * importing onnx is the slow part) and returns what
 * the onnx package reads back: initializer names, and each input's and output's dims
 * (a string for a symbolic one).
 */
export function checkOnnxModels(paths: readonly string[]): OnnxFileInfo[] {
  const script = `
import json, sys, onnx
dims = lambda vi: [d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim]
out = []
for path in sys.argv[1:]:
  m = onnx.load(path)
  onnx.checker.check_model(m, full_check=True)
  out.append({
    "initializers": [t.name for t in m.graph.initializer],
    "inputs": [dims(v) for v in m.graph.input],
    "outputs": [dims(v) for v in m.graph.output],
    "opset": [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0],
  })
print(json.dumps(out))
`;
  const r = spawnSync(PYTHON, ['-c', script, ...paths], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`onnx.checker failed on ${paths.join(', ')}: ${r.stderr || r.error?.message}`);
  return JSON.parse(r.stdout) as OnnxFileInfo[];
}
