#!/usr/bin/env node
// Runs one benchmark by name: `npm run bench -- gemm` loads bench/gemm.js and awaits its main().
// Benchmarks import the compiled library from dist/, so run `npm run compile` first.
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join('|')}> [args...]`);
  process.exit(name ? 1 : 0);
}
const mod = await import(pathToFileURL(join(here, `${name}.js`)).href);
await mod.main(args);
