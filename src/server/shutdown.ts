import type { Connection } from '../fanout/connection.js';
import type { HeartbeatWheel } from '../fanout/heartbeat.js';
import type { Subscriptions } from '../fanout/subscriptions.js';
import type { Fleet } from '../fleet/fleet.js';
import type { Principal } from '../types.js';
import { drainSpread } from './drain.js';
import type { Openings } from './openings.js';
import type { ConnectionRegistry } from './registry.js';

/** What a server's close() stops, in the order it stops them. */
export interface ShutdownParts<P extends Principal> {
  readonly registry: ConnectionRegistry<P>;
  readonly fleet: Fleet<P>;
  readonly openings: Openings;
  readonly drainWindowMs: number;
  /** A `retry:` chunk for one drained stream (spread over the drain jitter). */
  readonly drainRetry: () => Buffer;
  readonly heartbeat: HeartbeatWheel<Connection<P>> | undefined;
  readonly subscriptions: Subscriptions<P>;
}

/**
 * Closes a server: no more expiries; this instance's presence leaves the broker (one write per
 * scope) before the streams close; requests still waiting for the broker are answered now with a
 * retry; the streams close spread over `drainWindowMs` (live until then), each browser with its own
 * retry delay, so that they come back (elsewhere) spread out, with their id; then the heartbeats
 * stop and the broker subscriptions end.
 */
export async function shutDown<P extends Principal>(parts: ShutdownParts<P>): Promise<void> {
  const { registry, fleet, openings, drainWindowMs, drainRetry, heartbeat, subscriptions } = parts;
  registry.stop();
  const leaving = fleet.stop();
  openings.abortAll();
  await drainSpread(registry.all(), drainWindowMs, (connection) =>
    connection.close('server-closed', drainRetry()),
  );
  heartbeat?.stop();
  await Promise.all([subscriptions.closeAll(), leaving]);
}
