import type { ResolvedLimits } from '../limits.js';
import type { Principal } from '../types.js';

/** Which connection limit refuses a request. */
export type LimitName = 'maxConnections' | 'maxConnectionsPerPrincipal';

/**
 * The connection limits of one server: streams admitted (open, or still waiting for the broker),
 * in all and per principal. A request is counted from `admit` until `unadmit`, before any await,
 * so that concurrent requests cannot overshoot a limit.
 */
export class Admission {
  /** Admitted streams per principal key, for `maxConnectionsPerPrincipal`. */
  readonly #perPrincipal = new Map<string, number>();
  /** Admitted streams in all, for `maxConnections`. */
  #admitted = 0;

  constructor(private readonly limits: Pick<ResolvedLimits, LimitName>) {}

  /** The key that counts a principal's streams: its scope and user. */
  static key(principal: Principal): string {
    return `${principal.scopeId}\u0000${principal.userId}`;
  }

  /** The limit a new stream of `key` would exceed, or null when it may open. */
  refusal(key: string): LimitName | null {
    if (this.#admitted >= this.limits.maxConnections) return 'maxConnections';
    if ((this.#perPrincipal.get(key) ?? 0) >= this.limits.maxConnectionsPerPrincipal) {
      return 'maxConnectionsPerPrincipal';
    }
    return null;
  }

  admit(key: string): void {
    this.#admitted++;
    this.#perPrincipal.set(key, (this.#perPrincipal.get(key) ?? 0) + 1);
  }

  unadmit(key: string): void {
    this.#admitted--;
    const held = (this.#perPrincipal.get(key) ?? 1) - 1;
    if (held > 0) this.#perPrincipal.set(key, held);
    else this.#perPrincipal.delete(key);
  }
}
