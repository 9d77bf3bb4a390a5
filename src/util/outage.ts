/**
 * A dependency that fails over and over (a reconnecting Redis, streams refused while it is away)
 * is reported once per transition, not once per attempt: when it goes down, then at most one
 * reminder per `reminderMs` with the count and how long it has been down, then when it is back.
 */

/** One transition (or reminder) of an {@link Outage}. */
export interface OutageReport {
  /** `down`: the first failure; `still-down`: a reminder; `back`: recovered. */
  readonly kind: 'down' | 'still-down' | 'back';
  /** Failures seen since the outage began (the first included). */
  readonly failures: number;
  /** Milliseconds since the first failure. */
  readonly downForMs: number;
  /** The failure that triggered this report (the latest one); none for `back`. */
  readonly error?: Error;
}

/** The outage state of one dependency. */
export class Outage {
  #since: number | undefined;
  #failures = 0;
  #lastReport = 0;

  constructor(
    private readonly reminderMs: number,
    private readonly report: (report: OutageReport) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** True between the first failure and the recovery. */
  get down(): boolean {
    return this.#since !== undefined;
  }

  /** Failures seen in the current outage (0 when up). */
  get failures(): number {
    return this.#failures;
  }

  /** A failed attempt: reported when it starts an outage, or when a reminder is due. */
  failure(error: Error): void {
    const now = this.now();
    if (this.#since === undefined) {
      this.#since = now;
      this.#failures = 1;
      this.#lastReport = now;
      this.report({ kind: 'down', failures: 1, downForMs: 0, error });
      return;
    }
    this.#failures++;
    if (this.reminderMs > 0 && now - this.#lastReport >= this.reminderMs) {
      this.#lastReport = now;
      this.report({
        kind: 'still-down',
        failures: this.#failures,
        downForMs: now - this.#since,
        error,
      });
    }
  }

  /** It works again: reported once, when it ends an outage. */
  recovered(): void {
    if (this.#since === undefined) return;
    const report: OutageReport = {
      kind: 'back',
      failures: this.#failures,
      downForMs: this.now() - this.#since,
    };
    this.#since = undefined;
    this.#failures = 0;
    this.report(report);
  }
}

/** `12.3 s`: a duration as a log line shows it. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
