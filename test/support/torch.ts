// Whether the PyTorch cross-checks can run here: a python3 (BACKPROP_PYTHON, default
// /usr/bin/python3, where Debian's python3-torch puts torch) that imports torch.
//
// BACKPROP_REQUIRE_TORCH=1 (set by .ci/run, which installs python3-torch) turns the skip into a
// failure that carries the reason, so the cross-checks cannot silently stop running in CI.

import { spawnSync } from 'node:child_process';

export const PYTHON = process.env.BACKPROP_PYTHON || '/usr/bin/python3';

let checked: { ok: boolean; why: string } | undefined;

/** True when PYTHON imports torch; false (or, with BACKPROP_REQUIRE_TORCH=1, an Error) when not. */
export function torchHere(): boolean {
  if (checked === undefined) {
    const r = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8', timeout: 120_000 });
    const lastLine = (r.stderr ?? '').trim().split('\n').pop() ?? '';
    const why = r.error
      ? `${PYTHON} cannot run: ${r.error.message}`
      : r.status === 0
        ? ''
        : `${PYTHON} -c 'import torch' exited with ${r.status ?? r.signal}: ${lastLine}`;
    checked = { ok: why === '', why };
  }
  if (!checked.ok && process.env.BACKPROP_REQUIRE_TORCH === '1') {
    throw new Error(`BACKPROP_REQUIRE_TORCH=1, but the PyTorch cross-checks would be skipped: ${checked.why}`);
  }
  return checked.ok;
}
