// MNIST-style data sets (MNIST, Fashion-MNIST, KMNIST): a folder of four IDX files under their
// standard names, raw or gzipped. Images become float32 in [0, 1] with shape [N, 1, H, W]
// (NCHW, as torchvision's ToTensor gives), labels float32 class indices with shape [N].
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, tensor } from '../tensor.js';
import { loadIdx } from './idx.js';
import { sampleDir } from './sample.js';

export interface MnistOptions {
  /** 'train' (train-*) or 'test' (t10k-*); default 'train'. */
  split?: 'train' | 'test';
  /** Labels must lie in [0, numClasses); default 10. */
  numClasses?: number;
}

export interface MnistSplit {
  /** [N, 1, H, W], float32 in [0, 1]. */
  images: Tensor;
  /** [N], float32 holding class indices. */
  labels: Tensor;
  numClasses: number;
}

/** The file in dir holding `kind` (e.g. 'train-images-idx3-ubyte'), trying the usual spellings. */
function findFile(dir: string, prefix: string, kind: 'images' | 'labels'): string {
  const idx = kind === 'images' ? 'idx3' : 'idx1';
  const names = [`${prefix}-${kind}-${idx}-ubyte`, `${prefix}-${kind}.${idx}-ubyte`];
  const candidates = names.flatMap((n) => [join(dir, n), join(dir, `${n}.gz`)]);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(`loadMnist: no ${kind} file in ${dir}: looked for ${names.map((n) => `${n}[.gz]`).join(' or ')}`);
  }
  return found;
}

/**
 * Loads one split of an MNIST-style folder; with no dir, the bundled Fashion-MNIST sample
 * (3000 training and 1000 test images, class-balanced).
 */
export function loadMnist(dir: string = sampleDir(), options: MnistOptions = {}): MnistSplit {
  const { split = 'train', numClasses = 10 } = options;
  if (split !== 'train' && split !== 'test') throw new TypeError(`loadMnist: split must be 'train' or 'test', got ${String(split)}`);
  if (!existsSync(dir)) throw new Error(`loadMnist: data folder ${dir} does not exist`);
  const prefix = split === 'train' ? 'train' : 't10k';
  const imagesPath = findFile(dir, prefix, 'images');
  const labelsPath = findFile(dir, prefix, 'labels');
  const images = loadIdx(imagesPath);
  const labels = loadIdx(labelsPath);
  if (images.dtype !== 'uint8' || images.shape.length !== 3) {
    throw new Error(`loadMnist: ${imagesPath} must hold uint8 images [N, H, W], got ${images.dtype} [${images.shape.join(', ')}]`);
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new Error(`loadMnist: ${labelsPath} must hold uint8 labels [N], got ${labels.dtype} [${labels.shape.join(', ')}]`);
  }
  const [n, h, w] = images.shape;
  if (labels.shape[0] !== n) {
    throw new Error(`loadMnist: ${imagesPath} has ${n} images but ${labelsPath} has ${labels.shape[0]} labels`);
  }
  const labelValues = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = labels.data[i];
    if (c >= numClasses) {
      throw new Error(`loadMnist: ${labelsPath}: label ${c} at index ${i} is out of range for ${numClasses} classes`);
    }
    labelValues[i] = c;
  }
  const pixels = new Float32Array(images.data.length);
  for (let i = 0; i < pixels.length; i++) pixels[i] = images.data[i] / 255;
  return {
    images: tensor(pixels, { shape: [n, 1, h, w] }),
    labels: tensor(labelValues, { shape: [n] }),
    numClasses,
  };
}
