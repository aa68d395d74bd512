// Training progress for the CLI (or any fit() caller): a live bar with ETA, samples/s and the
// running loss on a terminal; one plain line per epoch otherwise (logs, CI, pipes).
import cliProgress from 'cli-progress';
import type { BatchLogs, EpochLogs } from './fit.js';

export interface ProgressOptions {
  epochs: number;
  /** Where to write (default process.stderr). */
  stream?: NodeJS.WriteStream | NodeJS.WritableStream;
  /** Force the bar on or off (default: on when the stream is a TTY). */
  bar?: boolean;
}

export interface Progress {
  onBatchEnd(logs: BatchLogs): void;
  onEpochEnd(logs: EpochLogs): void;
  stop(): void;
}

/** Bytes in KiB/MiB/GiB with three significant digits. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toPrecision(3)} ${units[i]}`;
}

function describeEpoch(logs: EpochLogs, epochs: number): string {
  const parts = [`epoch ${logs.epoch}/${epochs}`, `loss ${logs.loss.toFixed(4)}`];
  for (const [key, value] of Object.entries(logs)) {
    if (['epoch', 'loss', 'samples', 'seconds', 'lr', 'peakSavedBytes'].includes(key) || value === undefined) continue;
    parts.push(`${key} ${value.toFixed(4)}`);
  }
  parts.push(`${Math.round(logs.samples / logs.seconds)} samples/s`, `${logs.seconds.toFixed(1)}s`);
  if (logs.peakSavedBytes !== undefined) parts.push(`peak saved ${formatBytes(logs.peakSavedBytes)}`);
  return parts.join('  ');
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const useBar = options.bar ?? Boolean((stream as NodeJS.WriteStream).isTTY);
  if (!useBar) {
    return {
      onBatchEnd() {},
      onEpochEnd(logs) {
        stream.write(`${describeEpoch(logs, options.epochs)}\n`);
      },
      stop() {},
    };
  }
  // One bar for the whole run (so the ETA is the run's), stopped and restarted around the
  // per-epoch summary lines.
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format:
        'epoch {epoch}/{epochs} [{bar}] {percentage}% | ETA {eta_formatted} | {rate} samples/s | loss {loss} | peak saved {peak}',
      hideCursor: true,
      etaBuffer: 100,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let epochStart = 0;
  return {
    onBatchEnd(logs) {
      const perEpoch = logs.batches ?? logs.batch;
      const done = (logs.epoch - 1) * perEpoch + logs.batch;
      if (logs.batch === 1) epochStart = performance.now();
      if (!started) {
        bar.start(perEpoch * options.epochs, done - 1, {
          epoch: logs.epoch,
          epochs: options.epochs,
          rate: 0,
          loss: '-',
          peak: '-',
        });
        started = true;
      }
      const seconds = (performance.now() - epochStart) / 1000;
      bar.update(done, {
        epoch: logs.epoch,
        epochs: options.epochs,
        rate: seconds > 0 ? Math.round(logs.samples / seconds) : 0,
        loss: logs.runningLoss.toFixed(4),
        peak: logs.peakSavedBytes === undefined ? '-' : formatBytes(logs.peakSavedBytes),
      });
    },
    onEpochEnd(logs) {
      if (started) bar.stop();
      started = false;
      stream.write(`${describeEpoch(logs, options.epochs)}\n`);
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
