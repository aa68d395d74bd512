// SIGKILL during saves (issue 10): a child process saves in a loop (io.save, io.saveAsync and
// io.saveCheckpoint in turn, to three files in one folder); the parent kills it with SIGKILL at
// a random moment, checks that each file is absent or whole (loads, and holds the values of one
// complete save), and counts the temporaries left behind. The next child's first saves remove
// the temporaries of the killed ones, so at the end, after one clean save of each, none remain.
// Usage: node scripts/kill-saves.mjs [kills=50] [tensorMB=8]   (uses dist/: npm run compile first)
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kills = Number(process.argv[2] ?? 50);
const mb = Number(process.argv[3] ?? 8);
const dist = pathToFileURL(join(root, 'dist', 'index.js')).href;
const { io, nn, optim, tensor } = await import(dist);

const dir = mkdtempSync(join(tmpdir(), 'backprop-kill-'));
const files = ['sync.safetensors', 'async.safetensors', 'ckpt.safetensors'].map((f) => join(dir, f));

// The child: every save writes tensors whose every value is the save's number k, so a file that
// mixes two saves (or holds a partial one) is detected by the values alone.
const child = `
const { io, nn, optim, tensor } = await import(${JSON.stringify(dist)});
const [syncFile, asyncFile, ckptFile] = ${JSON.stringify(files)};
const n = ${mb} * 262144;
const model = new nn.Linear(64, 64);
const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
process.send('ready');
for (let k = 1; ; k++) {
  const big = tensor(new Float32Array(n).fill(k));
  io.save(syncFile, { big, k: tensor([k]) });
  await io.saveAsync(asyncFile, { big, k: tensor([k]) });
  model.weight.data.fill(k);
  io.saveCheckpoint(ckptFile, { model, optimizer: opt, epoch: k });
}`;

/** @param {string} f @returns {string} 'whole', 'absent' or 'TORN: why' */
function checkFile(f) {
  let loaded;
  try {
    loaded = f.endsWith('ckpt.safetensors') ? null : io.load(f);
  } catch (e) {
    if (/ENOENT/.test(String(e))) return 'absent';
    return `TORN: ${String(e)}`;
  }
  if (loaded === null) {
    const model = new nn.Linear(64, 64);
    const opt = new optim.Adam(model.parameters(), { lr: 1e-3 });
    try {
      const info = io.loadCheckpoint(f, { model, optimizer: opt });
      return model.weight.data.every((/** @type {number} */ v) => v === info.epoch) ? 'whole' : 'TORN: mixed values';
    } catch (e) {
      if (/ENOENT/.test(String(e))) return 'absent';
      return `TORN: ${String(e)}`;
    }
  }
  const k = loaded.tensors.k.data[0];
  return loaded.tensors.big.data.every((/** @type {number} */ v) => v === k) ? 'whole' : 'TORN: mixed values';
}

/** @type {Record<string, number>} */
const counts = { whole: 0, absent: 0, torn: 0 };
let maxLeftovers = 0;
for (let i = 0; i < kills; i++) {
  const p = spawn(process.execPath, ['--input-type=module', '-e', child], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await new Promise((r) => p.once('message', r));
  await new Promise((r) => setTimeout(r, 50 + Math.random() * 1500));
  p.kill('SIGKILL');
  await new Promise((r) => p.once('exit', r));
  for (const f of files) {
    const s = checkFile(f);
    if (s.startsWith('TORN')) {
      counts.torn++;
      console.log(`kill ${i + 1}: ${f}: ${s}`);
    } else counts[s]++;
  }
  const tmps = readdirSync(dir).filter((n) => n.endsWith('.tmp')).length;
  maxLeftovers = Math.max(maxLeftovers, tmps);
}
// One clean save of each file: it removes what the killed saves left.
io.save(files[0], { k: tensor([0]) });
await io.saveAsync(files[1], { k: tensor([0]) });
io.saveCheckpoint(files[2], { model: new nn.Linear(64, 64), epoch: 0 });
const left = readdirSync(dir).filter((n) => n.endsWith('.tmp'));
console.log(
  `${kills} SIGKILLs during saves of ${mb} MB: file checks ${JSON.stringify(counts)}, ` +
    `at most ${maxLeftovers} temporaries present between kills, ${left.length} left after the next saves`,
);
rmSync(dir, { recursive: true, force: true });
process.exit(counts.torn === 0 && left.length === 0 ? 0 : 1);
