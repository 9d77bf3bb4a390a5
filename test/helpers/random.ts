/** Seeded randomness shared by tests and benchmarks, so a failure can be replayed. */

/**
 * A whole number of at least `min` from the environment variable `name`, or `fallback` when it is
 * unset. Anything else throws: `FUZZ_ITERATIONS=0` or a typo must not run nothing and pass.
 */
export function envInteger(name: string, fallback: number, min: number): number {
  const text = process.env[name];
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min)
    throw new Error(`${name}=${JSON.stringify(text)}: must be a whole number >= ${min}`);
  return value;
}

/** A random seed for a property test, or the one given in `name` to replay a failure. */
export function envSeed(name: string): number {
  return envInteger(name, Math.floor(Math.random() * 2 ** 31), 0);
}

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [
  '\n',
  '\r',
  '\r\n',
  '\n\n',
  ' ',
  '  lead',
  'data: x',
  ':',
  'é',
  '漢字',
  '😀',
  '\u2028',
  '\t',
  '{"a":1}',
  'id: 5',
  'event: x',
  '\u0000',
];

/** A random string mixing ASCII, line breaks of every kind, unicode and SSE look-alikes. */
export function randomText(random: () => number, maxLength = 200): string {
  const length = Math.floor(random() * maxLength);
  let out = '';
  while (out.length < length) {
    const r = random();
    if (r < 0.35) out += PIECES[Math.floor(random() * PIECES.length)];
    else out += String.fromCharCode(32 + Math.floor(random() * 95));
  }
  return out;
}
