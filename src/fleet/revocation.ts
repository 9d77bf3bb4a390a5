import type { Connection } from '../fanout/connection.js';
import type { Hub } from '../fanout/hub.js';
import { buildRouteTable } from '../fanout/routes.js';
import { resolvePrincipal } from '../principal.js';
import type { Principal, PrincipalResolver, Router, SseRequest } from '../types.js';
import type { ControlMessage } from './control.js';

/** What revocation needs from the server. */
export interface RevocationContext<P extends Principal> {
  readonly revocationKeys: ((principal: P) => readonly string[]) | undefined;
  readonly reauthorizeIntervalMs: number;
  readonly resolver: PrincipalResolver<P>;
  readonly router: Router<P>;
  readonly maxRoutes: number;
  /** Ends a stream whose rights are gone: the browser reconnects and is resolved afresh. */
  revoke(connection: Connection<P>): void;
  report(error: unknown): void;
}

/** How many streams a re-authorization sweep checks at once. */
const SWEEP_CONCURRENCY = 16;

/**
 * This instance's half of revocation: which open streams a revocation selects, and the sweep
 * that re-runs the resolver and router for every open stream (`reauthorizeIntervalMs`). Owns the
 * revocation keys and original requests of its streams.
 */
export class Revocations<P extends Principal> {
  readonly #keys = new Map<Connection<P>, ReadonlySet<string>>();
  readonly #requests = new Map<Connection<P>, SseRequest>();
  readonly #timer: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(private readonly ctx: RevocationContext<P>) {
    if (ctx.reauthorizeIntervalMs <= 0) return;
    this.#timer = setInterval(() => void this.sweep(), ctx.reauthorizeIntervalMs);
    this.#timer.unref();
  }

  /** A stream opened from `request`. */
  opened(connection: Connection<P>, request: SseRequest): void {
    const { revocationKeys } = this.ctx;
    if (revocationKeys) {
      try {
        this.#keys.set(connection, new Set(revocationKeys(connection.principal).map(String)));
      } catch (err) {
        this.ctx.report(err);
      }
    }
    if (this.#timer !== undefined) this.#requests.set(connection, request);
  }

  closed(connection: Connection<P>): void {
    this.#keys.delete(connection);
    this.#requests.delete(connection);
  }

  /** Closes the streams of `hub` that a revocation selects; returns how many. */
  revokeIn(hub: Hub<P>, message: Extract<ControlMessage, { op: 'revoke' }>): number {
    const selected: Connection<P>[] = [];
    for (const [connection] of hub.members()) {
      if (message.userId !== undefined && String(connection.principal.userId) !== message.userId)
        continue;
      if (message.connectionId !== undefined && connection.id !== message.connectionId) continue;
      if (message.key !== undefined && !this.#keys.get(connection)?.has(message.key)) continue;
      selected.push(connection);
    }
    // Closed after the walk: closing takes a stream out of the hub.
    for (const connection of selected) this.ctx.revoke(connection);
    return selected.length;
  }

  /** One re-authorization pass over every open stream (skipped while the last one runs). */
  async sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const queue = [...this.#requests];
      const worker = async (): Promise<void> => {
        for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
          const [connection, request] = next;
          if (connection.closed) continue;
          if (!(await this.#holds(connection, request))) this.ctx.revoke(connection);
        }
      };
      await Promise.all(Array.from({ length: SWEEP_CONCURRENCY }, worker));
    } finally {
      this.#sweeping = false;
    }
  }

  /** Whether the stream's principal and routes still hold for its request. */
  async #holds(connection: Connection<P>, request: SseRequest): Promise<boolean> {
    let principal: P;
    try {
      principal = await resolvePrincipal(this.ctx.resolver, request);
    } catch {
      return false; // refused: the session is gone
    }
    const was = connection.principal;
    if (
      String(principal.userId) !== String(was.userId) ||
      String(principal.scopeId) !== String(was.scopeId)
    )
      return false;
    try {
      const { patterns } = buildRouteTable(this.ctx.router(principal), this.ctx.maxRoutes);
      return samePatterns(patterns, connection.patterns);
    } catch (err) {
      this.ctx.report(err);
      return false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#keys.clear();
    this.#requests.clear();
  }
}

function samePatterns(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sorted = [...b].sort();
  return [...a].sort().every((pattern, i) => pattern === sorted[i]);
}
