/**
 * Runtimes whose own server cuts a quiet response: Bun's `Bun.serve` closes a connection after
 * `idleTimeout` seconds without a byte (10 s by default, oven-sh/bun#27479), which would end every
 * stream between two heartbeats (30 s by default). `Bun.serve` hands its server to `fetch` as the
 * second argument; with it each stream lifts its own timeout (`server.timeout(request, 0)`).
 */
import { EventrailError } from '../errors.js';

/**
 * The part of a fetch server that `sse.fetch` may be given as its second argument (Bun's
 * `Bun.serve` passes its `Server`, whose `timeout(request, seconds)` sets one request's idle
 * timeout, 0 for none). Servers without an idle timeout need not pass anything.
 * @public
 */
export interface FetchServerLike {
  /** Sets the idle timeout of `request`'s connection in seconds; 0 turns it off. */
  timeout?(request: Request, seconds: number): unknown;
}

/** `Bun.serve`'s default `idleTimeout`, in milliseconds. */
export const BUN_DEFAULT_IDLE_TIMEOUT_MS = 10_000;

/** True on Bun (which sets `process.versions.bun`). */
function onBun(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.bun === 'string';
}

/**
 * Lifts the idle timeout of `request`'s stream through `server` when it has a `timeout` method
 * ({@link FetchServerLike}); on Bun without such a server, refuses a stream whose heartbeat would not come before Bun's default idle timeout.
 * @throws EventrailError `unsupported-runtime` on Bun when `server` cannot lift the timeout and
 * `heartbeatMs` is 0 or over {@link BUN_DEFAULT_IDLE_TIMEOUT_MS}.
 */
export function keepStreamOpen(request: Request, server: unknown, heartbeatMs: number): void {
  const timeout = (server as FetchServerLike | null | undefined)?.timeout;
  if (typeof timeout === 'function') {
    timeout.call(server, request, 0);
    return;
  }
  if (!onBun() || (heartbeatMs > 0 && heartbeatMs < BUN_DEFAULT_IDLE_TIMEOUT_MS)) return;
  throw new EventrailError(
    'unsupported-runtime',
    `On Bun, Bun.serve closes a stream after its idleTimeout (10 s by default) without a byte, before the heartbeat (heartbeatMs ${heartbeatMs}) comes. Pass Bun's server to sse.fetch: fetch: (request, server) => sse.fetch(request, server), or set heartbeatMs under 10000.`,
  );
}
