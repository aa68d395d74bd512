// Training and inference off the main thread: the background trainer, the inference pool, and
// packing tensors for postMessage. Exported as `workers`.
export {
  spawnTrainer,
  Trainer,
  type SpawnTrainerOptions,
  type TrainResult,
  type TrainerEvent,
  type LiveWeights,
  type BatchProgress,
} from './trainer.js';
export { type TrainerJob } from './trainer-worker.js';
export {
  createPredictor,
  Predictor,
  PredictorQueueFullError,
  type ModelBuilder,
  type PredictorOptions,
  type PredictOptions,
  type PredictorStats,
} from './predictor.js';
export { WorkerError, type WorkerErrorInfo } from './protocol.js';
export {
  packTensor,
  unpackTensor,
  packStateDict,
  unpackStateDict,
  packValue,
  unpackValue,
  transferListOf,
  type PackedTensor,
  type PackedStateDict,
} from './transfer.js';
