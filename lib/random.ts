// The one seeded random generator behind every random draw of the library (rand, randn, nn.init,
// dropout, DataLoader shuffling), so that manualSeed(n) makes a whole run reproducible.
// xoshiro128** (32-bit state words, fast in JS integer arithmetic), seeded through splitmix32.
// The state lives in this module: each worker thread has its own module instance, hence its own
// generator, and nothing is shared between threads.

const state = new Uint32Array(4);
let seedValue = 0;
/** The second value of the last Box-Muller pair, handed out by the next normal draw. */
let spareNormal = 0;
let hasSpareNormal = false;

function splitmix32(x: number): [number, number] {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [x, z >>> 0];
}

/** Seeds the generator; every random function of the library draws from it. Returns the seed. */
export function manualSeed(seed: number): number {
  if (typeof seed !== 'number' || !Number.isFinite(seed) || !Number.isInteger(seed)) {
    throw new TypeError(`manualSeed: seed must be an integer, got ${String(seed)}`);
  }
  seedValue = seed;
  // Both 32-bit halves of the seed take part, so seeds above 2^32 differ too.
  seedXoshiro(state, seed);
  hasSpareNormal = false;
  return seed;
}

/** The seed last given to manualSeed (or the default one). */
export function initialSeed(): number {
  return seedValue;
}

// A fixed default seed, as torch has: runs are reproducible even without manualSeed.
manualSeed(67280421);

/** Next 32 random bits as an unsigned integer. */
export function nextUint32(): number {
  return xoshiroNext(state);
}

/** Fills a xoshiro128** state from an integer seed (splitmix32; never all zero). */
export function seedXoshiro(st: Uint32Array, seed: number): void {
  const lo = seed >>> 0;
  const hi = Math.floor(Math.abs(seed) / 4294967296) >>> 0;
  let x = (lo ^ Math.imul(hi, 0x27d4eb2d) ^ (seed < 0 ? 0x5bd1e995 : 0)) | 0;
  for (let i = 0; i < 4; i++) {
    const [nx, z] = splitmix32(x);
    x = nx;
    st[i] = z;
  }
  if ((st[0] | st[1] | st[2] | st[3]) === 0) st[0] = 1;
}

/** One xoshiro128** step on `st`: the next 32 random bits as an unsigned integer. */
export function xoshiroNext(st: Uint32Array): number {
  const s0 = st[0],
    s1 = st[1],
    s2 = st[2],
    s3 = st[3];
  const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
  const t = (s1 << 9) >>> 0;
  st[2] = s2 ^ s0;
  st[3] = s3 ^ s1;
  st[1] = s1 ^ st[2];
  st[0] = s0 ^ st[3];
  st[2] ^= t;
  st[3] = rotl(st[3], 11);
  return r;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A uniform draw in [0, 1) with 53 random bits. */
export function nextDouble(): number {
  const hi = nextUint32() >>> 5; // 27 bits
  const lo = nextUint32() >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** A standard normal draw (Box-Muller, both values of each pair used). */
export function nextNormal(): number {
  if (hasSpareNormal) {
    hasSpareNormal = false;
    return spareNormal;
  }
  let u: number;
  do u = nextDouble();
  while (u === 0);
  const v = nextDouble();
  const r = Math.sqrt(-2 * Math.log(u));
  spareNormal = r * Math.sin(2 * Math.PI * v);
  hasSpareNormal = true;
  return r * Math.cos(2 * Math.PI * v);
}

type Fillable = Float32Array | Float64Array | number[];

/** Fills arr with uniform draws in [low, high); returns arr. */
export function fillUniform<T extends Fillable>(arr: T, low = 0, high = 1): T {
  const span = high - low;
  for (let i = 0; i < arr.length; i++) arr[i] = low + span * nextDouble();
  return arr;
}

/** Fills arr with normal draws of the given mean and standard deviation; returns arr. */
export function fillNormal<T extends Fillable>(arr: T, mean = 0, std = 1): T {
  for (let i = 0; i < arr.length; i++) arr[i] = mean + std * nextNormal();
  return arr;
}

/** n uniform draws in [low, high). */
export function randomUniform(n: number, low = 0, high = 1): Float64Array {
  return fillUniform(new Float64Array(checkCount('randomUniform', n)), low, high);
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function randomPermutation(n: number): Int32Array {
  const p = new Int32Array(checkCount('randomPermutation', n));
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(nextDouble() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** The generator's state, to save in a checkpoint and restore with setRngState. */
export function getRngState(): number[] {
  return [state[0], state[1], state[2], state[3], hasSpareNormal ? 1 : 0, spareNormal, seedValue];
}

export function setRngState(s: readonly number[]): void {
  const values: unknown = s; // checked as JavaScript callers may pass anything
  if (
    !Array.isArray(values) ||
    values.length !== 7 ||
    !values.every((v) => typeof v === 'number' && Number.isFinite(v))
  ) {
    throw new TypeError('setRngState: expected the 7 numbers returned by getRngState()');
  }
  for (let i = 0; i < 4; i++) state[i] = s[i];
  hasSpareNormal = s[4] === 1;
  spareNormal = s[5];
  seedValue = s[6];
}

function checkCount(op: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${op}: n must be a non-negative integer, got ${n}`);
  return n;
}
