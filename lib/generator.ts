// torch.Generator: a random generator of its own, for code that must not share the library's
// global one (lib/random.ts). Two DataLoaders shuffling in one process, each with a Generator,
// draw the same orders whether they run alone or interleaved; with the global generator every
// draw of one shifts the other's. Same algorithm and seeding as the global generator
// (xoshiro128** seeded through splitmix32), so new Generator().manualSeed(s) draws what the
// global generator draws after manualSeed(s).
import { seedXoshiro, xoshiroNext } from './random.js';

export class Generator {
  readonly #state = new Uint32Array(4);
  #seed = 0;

  /** A generator seeded with `seed` (default: torch's default seed, 67280421). */
  constructor(seed = 67280421) {
    this.manualSeed(seed);
  }

  /** Seeds the generator; returns it (as torch's Generator.manual_seed). */
  manualSeed(seed: number): this {
    if (typeof seed !== 'number' || !Number.isInteger(seed)) {
      throw new TypeError(`Generator.manualSeed: seed must be an integer, got ${String(seed)}`);
    }
    this.#seed = seed;
    seedXoshiro(this.#state, seed);
    return this;
  }

  /** The seed last given to manualSeed. */
  initialSeed(): number {
    return this.#seed;
  }

  /** The state, for setState (a checkpoint of a run's data order). */
  getState(): number[] {
    return [...this.#state, this.#seed];
  }

  setState(s: readonly number[]): this {
    const v: unknown = s;
    if (
      !Array.isArray(v) ||
      v.length !== 5 ||
      !v.every((x, i) => Number.isInteger(x) && (i === 4 || (x >= 0 && x < 2 ** 32)))
    ) {
      throw new TypeError('Generator.setState: expected the 5 numbers returned by getState()');
    }
    for (let i = 0; i < 4; i++) this.#state[i] = v[i] as number;
    this.#seed = v[4] as number;
    return this;
  }

  /** Next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    return xoshiroNext(this.#state);
  }

  /** A uniform draw in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates), as torch.randperm(n, generator). */
  randperm(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1)
      throw new RangeError(`Generator.randperm: n must be an integer in [0, 2^31-1], got ${String(n)}`);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.nextDouble() * (i + 1));
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}
