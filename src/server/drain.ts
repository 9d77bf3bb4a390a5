/**
 * The fastest a drain closes streams: a drain of `n` streams lasts `n / DRAIN_MIN_RATE` seconds
 * when that is shorter than `drainWindowMs`, so that a server holding a few streams closes at once
 * (tests, small deploys) while one holding tens of thousands spreads them over the whole window.
 */
export const DRAIN_MIN_RATE_PER_S = 1_000;

/** How often a drain closes its next batch of streams. */
const DRAIN_STEP_MS = 10;

/**
 * Closes `items` at an even pace: over `windowMs`, or over `items.length / DRAIN_MIN_RATE_PER_S`
 * seconds when that is shorter (0: all at once). Resolves once every item is closed. The order is
 * the given one (the registry's: oldest first). Closing an item already closed must be harmless.
 */
export function drainSpread<T>(
  items: readonly T[],
  windowMs: number,
  close: (item: T) => void,
): Promise<void> {
  const span = Math.min(windowMs, (items.length * 1_000) / DRAIN_MIN_RATE_PER_S);
  if (span < DRAIN_STEP_MS || items.length === 0) {
    for (const item of items) close(item);
    return Promise.resolve();
  }
  const started = performance.now();
  let next = 0;
  return new Promise((resolve) => {
    const step = (): void => {
      const elapsed = performance.now() - started;
      // Every item whose even share of the span has come: item i at i / n of the span.
      const due = Math.min(items.length, Math.floor((elapsed / span) * items.length) + 1);
      while (next < due) close(items[next++] as T);
      if (next >= items.length) resolve();
      else setTimeout(step, DRAIN_STEP_MS);
    };
    step();
  });
}
