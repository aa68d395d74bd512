// A training run as a picture: a self-contained HTML page (Chart.js inlined, so it opens offline
// and can be attached to a ticket) with the loss and accuracy per epoch for training and
// validation, the learning rate and the throughput; and a one-line sparkline of the loss for the
// terminal.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { EpochLogs } from './fit.js';
import { writeFileAtomic } from '../io/atomic.js';

export interface ReportOptions {
  /** The page's heading (default 'Training report'). */
  title?: string;
  /** Lines shown under the heading (command, data, backend...). */
  details?: readonly string[];
}

const BARS = '▁▂▃▄▅▆▇█';

/** The values as one line of block characters, lowest ▁ to highest █ (NaN and ±Inf as a space). */
export function sparkline(values: readonly number[]): string {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return ' '.repeat(values.length);
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return values
    .map((v) => {
      if (!Number.isFinite(v)) return ' ';
      const level = hi === lo ? 0 : Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1));
      return BARS[level];
    })
    .join('');
}

/** Chart.js's UMD build, read from its package (a dependency): the page embeds it. */
function chartJsSource(): string {
  const main = createRequire(import.meta.url).resolve('chart.js');
  return readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
}

/** JSON that is safe inside a <script> element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

interface Series {
  label: string;
  data: (number | null)[];
}

/** The series of one key over the epochs (null where an epoch lacks it). */
function series(epochs: readonly EpochLogs[], key: string, label: string): Series | null {
  const data = epochs.map((e) => (typeof e[key] === 'number' && Number.isFinite(e[key]) ? e[key] : null));
  return data.some((v) => v !== null) ? { label, data } : null;
}

/** The page for a run's epoch logs (as fit() returns them in history.epochs). */
export function reportHtml(epochs: readonly EpochLogs[], options: ReportOptions = {}): string {
  const title = options.title ?? 'Training report';
  const charts = [
    { id: 'loss', title: 'Loss', series: [series(epochs, 'loss', 'train'), series(epochs, 'valLoss', 'validation')] },
    {
      id: 'accuracy',
      title: 'Accuracy',
      series: [series(epochs, 'accuracy', 'train'), series(epochs, 'valAccuracy', 'validation')],
    },
    { id: 'lr', title: 'Learning rate', series: [series(epochs, 'lr', 'lr')] },
    {
      id: 'throughput',
      title: 'Samples per second',
      series: [
        {
          label: 'samples/s',
          data: epochs.map((e) => (e.seconds > 0 ? e.samples / e.seconds : null)),
        },
      ],
    },
  ]
    .map((c) => ({ ...c, series: c.series.filter((s): s is Series => s !== null) }))
    .filter((c) => c.series.length > 0);
  const labels = epochs.map((e) => e.epoch);
  const details = (options.details ?? []).map((d) => `<li>${escapeHtml(d)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:1em auto;padding:0 1em}
.chart{position:relative;height:300px;margin:1.5em 0}</style>
<script>${chartJsSource().replace(/<\/script/gi, '<\\/script')}</script></head>
<body><h1>${escapeHtml(title)}</h1><ul>${details}</ul>
${charts.map((c) => `<div class="chart"><canvas id="${c.id}"></canvas></div>`).join('\n')}
<script>
const labels = ${scriptJson(labels)};
const charts = ${scriptJson(charts)};
const drawn = {};
let inked = 0;
for (const c of charts) {
  const chart = new Chart(document.getElementById(c.id), {
    type: 'line',
    data: { labels, datasets: c.series.map((s) => ({ label: s.label, data: s.data, spanGaps: true })) },
    options: { animation: false, maintainAspectRatio: false,
      plugins: { title: { display: true, text: c.title } },
      scales: { x: { title: { display: true, text: 'epoch' } } } },
  });
  drawn[c.id] = chart.data.datasets.map((d) => d.data);
  // non-blank pixels of the canvas: the chart was really drawn
  const canvas = document.getElementById(c.id);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) inked++;
}
document.body.dataset.inked = String(inked);
// What was drawn, for tools that read the page (the tests load it in a headless browser).
document.body.dataset.charts = JSON.stringify(drawn);
</script></body></html>
`;
}

/** Writes the report page to `path` (atomically: a reader never sees half a page). */
export function writeReport(path: string, epochs: readonly EpochLogs[], options: ReportOptions = {}): void {
  const bytes = new TextEncoder().encode(reportHtml(epochs, options));
  writeFileAtomic(path, (write) => write(bytes));
}
