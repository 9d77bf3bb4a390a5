/**
 * How long a process's event loop was held up: the longest delay of a 20 ms timer since the last
 * reset (node's `monitorEventLoopDelay`). Every process of a measured window reports it: the
 * server (its own work or a collection held it), the load workers (they stamp the arrival), and
 * an idle probe process that does nothing else (bench/probe.ts), so that a stall of the whole
 * machine (the hypervisor, another tenant) can be told from one of the system under test.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** The probing timer's period, in ms. */
export const LOOP_RESOLUTION_MS = 20;

export interface LoopDelay {
  reset(): void;
  /** The longest delay since the last reset, in ms (0 before the first timer). */
  maxMs(): number;
}

export function loopDelay(): LoopDelay {
  const histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  histogram.enable();
  return {
    reset: () => histogram.reset(),
    // The histogram records nanoseconds; an empty one reports a huge min and a max of 0.
    maxMs: () => histogram.max / 1e6,
  };
}
