// ESLint (flat config): typescript-eslint's type-aware recommended rules on the TypeScript, the
// plain recommended rules on the JavaScript (bench/, examples/, scripts/: tsc checks their JSDoc
// types), and the two rules that keep lib/'s layers apart (ARCHITECTURE.md describes them):
//
// 1. Import cycles. The only circle allowed is tensor <-> ops <-> autograd: Tensor methods call
//    ops, ops create Tensors and record autograd nodes, the engine calls ops. import-x/no-cycle
//    runs on every file of lib/ except those of that circle. A cycle through any other file has
//    an import statement in that file, so it is reported there; a cycle made only of circle files
//    has no import statement the rule looks at, so it passes. Type-only imports are no cycle (they
//    vanish at run time).
// 2. Layering: lib/backend imports nothing of lib outside itself (it only moves numbers); lib/ops
//    knows nothing of the layers built on it (nn, optim, data, io, train, workers, the CLI).

import { defineConfig } from 'eslint/config';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import prettierOff from 'eslint-config-prettier';
import globals from 'globals';

/** The documented circle: these may import each other in any direction. */
const CIRCLE = ['lib/tensor.ts', 'lib/ops/**', 'lib/autograd/**'];

/** What lib/ops must not import: the layers above it. */
const ABOVE_OPS = ['lib/nn', 'lib/optim', 'lib/data', 'lib/io', 'lib/train', 'lib/workers', 'lib/bio', 'lib/cli.ts'];

export default defineConfig(
  {
    ignores: [
      'dist/**',
      'build/**',
      'build-ctest*/**',
      'prebuilds/**',
      'node_modules/**',
      'data/**',
      'coverage/**',
      'docs/api/**',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        project: './tsconfig.typecheck.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // `_`-prefixed names mark a parameter or binding that is there for its position only.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Numbers and other primitives in template strings are the norm for error messages.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
    },
  },
  {
    // JavaScript: checked by tsc (checkJs) through JSDoc; here only the rules that need no types.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // Tests feed deliberately wrong arguments to check the errors (`any` says so in one word), read
    // JSON from child processes and use vitest's asymmetric matchers (typed `any`); the `any`
    // discipline is lib/'s. Shapes print as "2,3" in test titles.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true, allowArray: true },
      ],
    },
  },
  {
    files: ['lib/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: 'lib/backend',
              from: 'lib',
              except: ['backend'],
              message: 'lib/backend is the bottom layer: it imports nothing of lib outside lib/backend.',
            },
            ...ABOVE_OPS.map((from) => ({
              target: 'lib/ops',
              from,
              message: 'lib/ops is below nn, optim, data, io, train and the CLI: it may not import them.',
            })),
          ],
        },
      ],
    },
  },
  {
    files: CIRCLE,
    rules: { 'import-x/no-cycle': 'off' },
  },
  prettierOff,
);
