/** How the client waits between reconnect attempts it makes itself. @public */
export interface BackoffOptions {
  /** The first delay. @defaultValue `1000` */
  readonly initialMs?: number;
  /** The longest delay. @defaultValue `30000` */
  readonly maxMs?: number;
  /** Each failed attempt multiplies the delay by this. @defaultValue `2` */
  readonly factor?: number;
  /**
   * The share of each delay that is random, from 0 (none) to 1 (anywhere between 0 and the delay),
   * so that many tabs cut off at once do not come back at once. @defaultValue `0.5`
   */
  readonly jitter?: number;
}

function clamp(value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.min(max, Math.max(min, value));
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first): exponential, capped at `maxMs`,
 * with its last `jitter` share drawn at random.
 * @public
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initialMs = clamp(options.initialMs, 1000, 0, 3_600_000);
  const maxMs = clamp(options.maxMs, 30_000, initialMs, 3_600_000);
  const factor = clamp(options.factor, 2, 1, 100);
  const jitter = clamp(options.jitter, 0.5, 0, 1);
  const base = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt));
  return Math.round(base * (1 - jitter * random()));
}
