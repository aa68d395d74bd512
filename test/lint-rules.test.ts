// The import rules of eslint.config.js still bite (a resolver that stops resolving makes
// import-x's rules pass in silence): each case lints a file of lib/ as it is on disk plus one
// import that breaks a rule, and expects exactly that rule to report it.

import { readFileSync } from 'node:fs';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint();

/** The import-x reports for `path` (a file of lib/) with `extra` appended to its source. */
async function importReports(path: string, extra = '', linter = eslint): Promise<string[]> {
  const code = readFileSync(path, 'utf8') + extra;
  const [result] = await linter.lintText(code, { filePath: path });
  return result.messages.filter((m) => m.ruleId?.startsWith('import-x/')).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('eslint import rules', () => {
  it('allow the tensor <-> ops <-> autograd circle, which is a real cycle', async () => {
    expect(await importReports('lib/tensor.ts')).toEqual([]);
    const everywhere = new ESLint({
      overrideConfig: { files: ['lib/**/*.ts'], rules: { 'import-x/no-cycle': 'error' } },
    });
    expect(await importReports('lib/tensor.ts', '', everywhere)).toContainEqual(
      expect.stringMatching(/^import-x\/no-cycle: Dependency cycle/),
    );
  });

  it('report any other cycle (random.ts importing the Tensor that imports it)', async () => {
    const extra =
      "\nimport { Tensor as ProbeTensor } from './tensor.js';\nexport const probe = (): unknown => ProbeTensor;\n";
    expect(await importReports('lib/random.ts')).toEqual([]);
    expect(await importReports('lib/random.ts', extra)).toEqual(['import-x/no-cycle: Dependency cycle detected']);
  });

  it('keep lib/backend from importing the rest of lib', async () => {
    const extra =
      "\nimport { Tensor as ProbeTensor } from '../tensor.js';\nexport const probe = (): unknown => ProbeTensor;\n";
    expect(await importReports('lib/backend/types.ts')).toEqual([]);
    // Sorted: tensor.ts imports types.ts, so this import also closes a cycle.
    // (eslint names the cycle's path when it is long: "Dependency cycle via ...")
    expect((await importReports('lib/backend/types.ts', extra)).sort()).toEqual([
      expect.stringMatching(/^import-x\/no-cycle: Dependency cycle (detected|via )/),
      expect.stringMatching(/^import-x\/no-restricted-paths: .*lib\/backend is the bottom layer/),
    ]);
  });

  it('keep lib/ops from importing the layers above it', async () => {
    const extra =
      "\nimport { clipGradNorm as probeClip } from '../optim/clip.js';\nexport const probe = (): unknown => probeClip;\n";
    expect(await importReports('lib/ops/copy.ts')).toEqual([]);
    expect(await importReports('lib/ops/copy.ts', extra)).toEqual([
      expect.stringMatching(/^import-x\/no-restricted-paths: .*lib\/ops is below nn, optim/),
    ]);
  });
});
