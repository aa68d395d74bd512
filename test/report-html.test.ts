// The training report: the sparkline against hand-written lines, and the HTML page loaded in
// headless Chromium (Debian's chromium; .ci/run installs it and sets BACKPROP_REQUIRE_CHROMIUM=1):
// the charts must be drawn (inked canvas pixels) from exactly the epochs' values, offline.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { reportHtml, sparkline, writeReport, type EpochLogs } from '../lib/index.js';

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const chromiumRequired = process.env.BACKPROP_REQUIRE_CHROMIUM === '1';

/** The page's <body> data attributes after Chromium ran its scripts (no network, fresh profile). */
function renderBody(file: string): Record<string, string> {
  const profile = mkdtempSync(join(tmpdir(), 'backprop-chromium-'));
  const r = spawnSync(
    chromium as string,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--virtual-time-budget=5000',
      '--dump-dom',
      `file://${resolve(file)}`,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  if (r.status !== 0) throw new Error(`chromium exited with ${r.status}: ${r.stderr}`);
  const body = /<body([^>]*)>/.exec(r.stdout);
  if (!body) throw new Error(`no <body> in Chromium's DOM: ${r.stdout.slice(0, 300)}`);
  const attrs: Record<string, string> = {};
  for (const m of body[1].matchAll(/data-([a-z-]+)="([^"]*)"/g)) {
    attrs[m[1]] = m[2].replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  }
  return attrs;
}

describe('sparkline', () => {
  it('maps the lowest value to ▁, the highest to █, linearly between', () => {
    expect(sparkline([3, 2, 1])).toBe('█▅▁');
    expect(sparkline([0, 7, 1, 6])).toBe('▁█▂▇');
    expect(sparkline([5, 5])).toBe('▁▁');
    expect(sparkline([1, NaN, 2])).toBe('▁ █');
    expect(sparkline([])).toBe('');
  });
});

describe('HTML report', () => {
  const epochs: EpochLogs[] = [1, 2, 3, 4].map((e) => ({
    epoch: e,
    loss: 1 / e,
    valLoss: 1.1 / e,
    accuracy: 0.5 + e / 10,
    valAccuracy: 0.45 + e / 10,
    lr: 0.01 / e,
    samples: 3000,
    seconds: 2 * e,
  }));

  it('is self-contained: the chart library inlined, no external resource', () => {
    const html = reportHtml(epochs, { title: 'run <1>' });
    expect(html).toContain('run &lt;1&gt;');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=|https?:\/\/[^"'\s]*\.(js|css)\b/);
    expect(html.length).toBeGreaterThan(100_000); // Chart.js itself
  });

  it.skipIf(!chromium && !chromiumRequired)('renders every chart from the epochs’ values in headless Chromium', () => {
    if (!chromium) throw new Error('BACKPROP_REQUIRE_CHROMIUM=1, but no chromium is installed');
    const dir = mkdtempSync(join(tmpdir(), 'backprop-report-'));
    const file = join(dir, 'report.html');
    writeReport(file, epochs, { details: ['a test run'] });
    expect(readFileSync(file, 'utf8')).toContain('a test run');
    const body = renderBody(file);
    expect(Number(body.inked)).toBeGreaterThan(2000);
    const charts = JSON.parse(body.charts) as Record<string, number[][]>;
    expect(charts.loss).toEqual([epochs.map((e) => e.loss), epochs.map((e) => e.valLoss)]);
    expect(charts.accuracy).toEqual([epochs.map((e) => e.accuracy), epochs.map((e) => e.valAccuracy)]);
    expect(charts.lr).toEqual([epochs.map((e) => e.lr)]);
    expect(charts.throughput).toEqual([[1500, 750, 500, 375]]);
  });
});
