/**
 * A latency histogram: 10 µs buckets up to 2 s, then 10 ms buckets up to 120 s (a storm's queue
 * is measured, not capped), one overflow bucket. Cheap to add and merge.
 */
const BUCKET_US = 10;
const BUCKETS = 200_000;
const COARSE_US = 10_000;
const COARSE = 11_800;
const FINE_END_US = BUCKET_US * BUCKETS;

/** The upper edge of bucket `i`, ms. */
function edgeMs(i: number): number {
  if (i < BUCKETS) return ((i + 1) * BUCKET_US) / 1000;
  return (FINE_END_US + (i - BUCKETS + 1) * COARSE_US) / 1000;
}

export class Hist {
  readonly counts = new Uint32Array(BUCKETS + COARSE + 1);

  add(us: number): void {
    const at =
      us < FINE_END_US
        ? Math.max(0, Math.floor(us / BUCKET_US))
        : BUCKETS + Math.min(COARSE, Math.floor((us - FINE_END_US) / COARSE_US));
    this.counts[at] = (this.counts[at] ?? 0) + 1;
  }

  /**
   * The non-empty buckets as one flat array, bucket and count in turn: over IPC and kept per
   * window, one array of small integers costs the collector far less than an array per bucket.
   */
  pairs(): number[] {
    const out: number[] = [];
    this.counts.forEach((n, i) => {
      if (n > 0) out.push(i, n);
    });
    return out;
  }

  /** Adds the counts of {@link pairs} output. */
  merge(pairs: readonly number[]): void {
    for (let k = 0; k + 1 < pairs.length; k += 2) {
      const i = pairs[k] as number;
      this.counts[i] = (this.counts[i] ?? 0) + (pairs[k + 1] as number);
    }
  }

  get total(): number {
    let sum = 0;
    for (const n of this.counts) sum += n;
    return sum;
  }

  /** The q-quantile in ms (upper edge of its bucket), or null when empty. */
  quantileMs(q: number): number | null {
    const total = this.total;
    if (total === 0) return null;
    const rank = Math.ceil(q * total);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] ?? 0;
      if (seen >= rank) return edgeMs(i);
    }
    return null;
  }
}
