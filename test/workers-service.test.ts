// examples/service.js as a user runs it: a child process that trains on the bundled sample in the
// background, answers GET /status and POST /predict on 127.0.0.1 (an ephemeral port), refuses a
// malformed request, and on SIGINT stops training, writes its checkpoint and exits.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = resolve('dist/workers/trainer-worker.js');

describe.skipIf(!existsSync(dist))('examples/service.js', () => {
  it('trains in the background, serves /status and /predict, and stops cleanly on SIGINT', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-service-'));
    const checkpoint = join(dir, 'ck.safetensors');
    const child = spawn(
      process.execPath,
      [
        'examples/service.js',
        '--port',
        '0',
        '--epochs',
        '1',
        '--publish-every',
        '5',
        '--data',
        'data/fashion-mnist-sample',
        '--checkpoint',
        checkpoint,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      while (!/listening on (http:\S+)/.test(out)) {
        if (child.exitCode !== null) throw new Error(`the service exited: ${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const base = /listening on (http:\S+)/.exec(out)![1];
      const status = async (): Promise<any> => (await fetch(`${base}/status`)).json();
      // Wait for the first weights (bounded: 60 s), then predict.
      for (let i = 0; i < 600 && (await status()).weightsVersion < 1; i++) await new Promise((r) => setTimeout(r, 100));
      const image = Array.from({ length: 784 }, (_, i) => (i % 28 > 8 && i % 28 < 20 ? 0.8 : 0));
      const res = await fetch(`${base}/predict`, { method: 'POST', body: JSON.stringify({ image }) });
      expect(res.status).toBe(200);
      const p: any = await res.json();
      expect(p.class).toBeGreaterThanOrEqual(0);
      expect(p.class).toBeLessThan(10);
      expect(p.probabilities.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 5);
      expect(p.weightsVersion).toBeGreaterThanOrEqual(1);
      const bad = await fetch(`${base}/predict`, { method: 'POST', body: '{"image": [1, 2]}' });
      expect(bad.status).toBe(400);
      const s = await status();
      expect(['training', 'stopping', 'done']).toContain(s.state);
      expect(s.error).toBeNull();
      expect(s.predictor.samples).toBe(1);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(existsSync(checkpoint)).toBe(true);
      expect(out).toMatch(/training (stopped|finished) after \d+ batches/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
