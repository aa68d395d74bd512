// The bundled default data set: a class-balanced Fashion-MNIST sample shipped in the package
// (data/fashion-mnist-sample, cut by scripts/make-sample.mjs).
import { fileURLToPath } from 'node:url';

/** The folder of the bundled Fashion-MNIST sample (standard gzipped IDX file names). */
export function sampleDir(): string {
  // lib/data/sample.ts and dist/data/sample.js both sit two levels below the package root.
  return fileURLToPath(new URL('../../data/fashion-mnist-sample', import.meta.url));
}

/** Fashion-MNIST's class names, by label. */
export const fashionMnistClasses = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;
