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

/**
 * A latency limit for a step that crosses processes this one cannot watch (a browser, a server):
 * `limitMs` plus twice `referenceMs`, the time a plain round trip through the same processes took
 * just before or alongside (a form post's answer, a plain page load). On an idle machine the
 * reference is tens of milliseconds and the limit stays what it says; on a busy one every process
 * is slowed alike and the reference grows with them. A defect that waits for a retry, a heartbeat
 * or a reconnect still shows: it adds seconds that the reference does not.
 */
export function allowingFor(limitMs: number, referenceMs: number): number {
  return limitMs + 2 * Math.max(0, referenceMs);
}
