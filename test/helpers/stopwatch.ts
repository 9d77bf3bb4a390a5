/**
 * Upper bounds on the wall clock that a busy machine cannot break without a defect: the time a
 * step took is compared with its limit plus how late this process's event loop ran meanwhile (a
 * timer that fires late, because the process waited for a core, makes every deadline late alike).
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface Stopwatch {
  /** Milliseconds since the stopwatch started. */
  elapsed(): number;
  /**
   * Asserts that the time since the start is at most `limitMs` plus the event loop's worst lateness
   * meanwhile; returns the time. Stops the stopwatch.
   */
  within(limitMs: number, what: string): number;
}

export function stopwatch(): Stopwatch {
  const started = performance.now();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  return {
    elapsed: () => performance.now() - started,
    within(limitMs, what) {
      const elapsed = performance.now() - started;
      delay.disable();
      const late = delay.count > 0 ? delay.max / 1e6 : 0;
      assert.ok(
        elapsed <= limitMs + late,
        `${what}: took ${Math.round(elapsed)} ms, over ${limitMs} ms plus the ${Math.round(late)} ms the event loop ran late`,
      );
      return elapsed;
    },
  };
}
