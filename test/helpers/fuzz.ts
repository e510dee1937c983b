/**
 * @module Seeded mutation of inputs for hostile-input tests: the same seed gives the same cases on every run, so a
 * failure names the seed and case that reproduce it.
 */

/** A small deterministic PRNG (mulberry32): uniform 32-bit values from a 32-bit seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
}

/**
 * The seed a seeded fuzz test plays: its own fixed one (what CI runs), or with `PODKIT_FUZZ_SEED=N` one derived from
 * N and it, so that one variable moves every fuzzer to cases it has not played. A failure names the seed it played;
 * the same N replays it.
 */
export function fuzzSeed(fixed: number, env = process.env.PODKIT_FUZZ_SEED): number {
  const n = Number(env);
  return env && Number.isSafeInteger(n) && n !== 0 ? Math.imul((fixed ^ n) >>> 0, 0x9e3779b1) >>> 0 || 1 : fixed;
}

/** Bytes that tend to matter to parsers: separators, signs, digits, NUL, high bytes. */
const INTERESTING = [0x00, 0x0a, 0x0d, 0x20, 0x22, 0x27, 0x2b, 0x2d, 0x2e, 0x2f, 0x30, 0x39, 0x3a, 0x3d, 0x40, 0x5c, 0x7b, 0x7c, 0x7d, 0x7f, 0x80, 0xc0, 0xff];

/** Numbers that tend to matter to length and count fields. */
export const EDGE_NUMBERS = ['0', '-0', '-1', '+1', '01', '2147483647', '2147483648', '4294967296', '9007199254740993', '99999999999999999999', '1e308', 'NaN', '', ' 1', '0x10'];

/**
 * One mutation of `input`: a byte flipped, set to an interesting value, inserted, deleted or duplicated; a slice
 * repeated; a cut. `rounds` mutations are stacked.
 */
export function mutate(input: Buffer, rng: Rng, rounds = 1): Buffer {
  let b = Buffer.from(input);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(7)) {
      case 0:
        if (b.length) b[at] ^= 1 << rng.int(8);
        break;
      case 1:
        if (b.length) b[at] = rng.pick(INTERESTING);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), Buffer.from([rng.pick(INTERESTING)]), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(8))]);
        break;
      case 4: {
        const len = 1 + rng.int(Math.max(1, Math.min(64, b.length - at)));
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
        break;
      }
      case 5: {
        const len = 1 + rng.int(16);
        const piece = b.subarray(at, at + len);
        b = Buffer.concat([b.subarray(0, at), ...Array.from({ length: 2 + rng.int(30) }, () => piece), b.subarray(at)]);
        break;
      }
      default:
        b = b.subarray(0, at);
    }
  }
  return b;
}

/** `text` with one run of ASCII digits (a length, a count, a port) replaced by an edge number. */
export function mutateNumber(text: string, rng: Rng): string {
  const runs = [...text.matchAll(/\d+/g)];
  if (runs.length === 0) return text;
  const m = rng.pick(runs);
  return text.slice(0, m.index) + rng.pick(EDGE_NUMBERS) + text.slice(m.index! + m[0].length);
}

/** Splits `b` into 1–`max` pieces at random points (one stream delivered over several reads). */
export function splitRandomly(b: Buffer, rng: Rng, max = 6): Buffer[] {
  const cuts = Array.from({ length: rng.int(max) }, () => rng.int(b.length + 1)).sort((x, y) => x - y);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of cuts) {
    out.push(b.subarray(from, c));
    from = c;
  }
  out.push(b.subarray(from));
  return out.filter((p) => p.length > 0);
}
