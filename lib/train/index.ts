// The training loop's part of the public API (`fit` is exported at the top level).
export {
  fit,
  evaluate,
  type FitOptions,
  type History,
  type EpochLogs,
  type BatchLogs,
  type EvaluateOptions,
  type Trainable,
  type OptimizerLike,
  type SchedulerLike,
  type LossFunction,
  type Batches,
} from './fit.js';
export { Accuracy, createMetrics, type Metric, type MetricSpec } from './metrics.js';
export { createProgress, type Progress, type ProgressOptions } from './progress.js';
export { reportHtml, sparkline, writeReport, type ReportOptions } from './report.js';
