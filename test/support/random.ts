// A small seeded RNG for tests, so every failure reproduces (mulberry32 + Box-Muller).

export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  int(lo: number, hiExclusive: number): number {
    return lo + Math.floor(this.next() * (hiExclusive - lo));
  }

  /** A typed array of the given kind filled with normal (or uniform in [lo, hi)) values. */
  fill<T extends Float32Array | Float64Array>(arr: T, lo?: number, hi?: number): T {
    for (let i = 0; i < arr.length; i++) arr[i] = lo === undefined ? this.normal() : this.uniform(lo, hi ?? 1);
    return arr;
  }
}
