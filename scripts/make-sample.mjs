#!/usr/bin/env node
// Re-cuts the bundled Fashion-MNIST sample in data/fashion-mnist-sample/ from the full data set
// (Debian's dataset-fashion-mnist: /usr/share/datasets/fashion-mnist/*.gz).
//
//   node scripts/make-sample.mjs [SOURCE_DIR] [TRAIN_PER_CLASS] [TEST_PER_CLASS]
//
// The selection is fixed, with no randomness: for each class, the first N images of that class
// in file order, kept in their original order, so the sample is class-balanced and the same
// bytes come out every time. Output: the standard IDX file names, gzipped (level 9, mtime 0),
// which keeps the package under 2 MB.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [source = '/usr/share/datasets/fashion-mnist', trainPer = '300', testPer = '100'] = process.argv.slice(2);
const outDir = join(root, 'data', 'fashion-mnist-sample');

/**
 * @param {string} path
 * @returns {{ shape: number[], body: Buffer }}
 */
function readIdx(path) {
  const buf = gunzipSync(readFileSync(path));
  const ndim = buf[3];
  const shape = [];
  for (let i = 0; i < ndim; i++) shape.push(buf.readUInt32BE(4 + 4 * i));
  return { shape, body: buf.subarray(4 + 4 * ndim) };
}

/**
 * @param {string} path
 * @param {number} typeCode
 * @param {number[]} shape
 * @param {Buffer} body
 */
function writeIdx(path, typeCode, shape, body) {
  const header = Buffer.alloc(4 + 4 * shape.length);
  header[2] = typeCode;
  header[3] = shape.length;
  shape.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  writeFileSync(path, gzipSync(Buffer.concat([header, body]), { level: 9 }));
}

/**
 * @param {string} prefix
 * @param {string} outPrefix
 * @param {number} perClass
 */
function cut(prefix, outPrefix, perClass) {
  const images = readIdx(join(source, `${prefix}-images-idx3-ubyte.gz`));
  const labels = readIdx(join(source, `${prefix}-labels-idx1-ubyte.gz`));
  const rows = images.shape[1] * images.shape[2];
  const taken = new Array(10).fill(0);
  const chosen = [];
  for (let i = 0; i < labels.shape[0]; i++) {
    const c = labels.body[i];
    if (taken[c] < perClass) {
      taken[c]++;
      chosen.push(i);
    }
  }
  const imageBody = Buffer.alloc(chosen.length * rows);
  const labelBody = Buffer.alloc(chosen.length);
  chosen.forEach((src, dst) => {
    images.body.copy(imageBody, dst * rows, src * rows, (src + 1) * rows);
    labelBody[dst] = labels.body[src];
  });
  writeIdx(
    join(outDir, `${outPrefix}-images-idx3-ubyte.gz`),
    0x08,
    [chosen.length, images.shape[1], images.shape[2]],
    imageBody,
  );
  writeIdx(join(outDir, `${outPrefix}-labels-idx1-ubyte.gz`), 0x08, [chosen.length], labelBody);
  console.log(`${outPrefix}: ${chosen.length} images (${perClass} per class)`);
}

mkdirSync(outDir, { recursive: true });
cut('train', 'train', Number(trainPer));
cut('t10k', 't10k', Number(testPer));
