// The `io` namespace of the public API.
export { save, load, saveAsync, loadAsync, type Loaded } from './tensors.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  type CheckpointParts,
  type CheckpointInfo,
  type Stateful,
} from './checkpoint.js';
export {
  readSafetensors,
  writeSafetensors,
  readSafetensorsAsync,
  writeSafetensorsAsync,
  decodeSafetensors,
  type RawTensor,
  type DecodedTensor,
  type DecodedFile,
} from './safetensors.js';
export type { FloatArray } from './safetensors.js';
export { exportOnnx, exportOnnxBytes, type OnnxExportOptions } from './onnx-export.js';
