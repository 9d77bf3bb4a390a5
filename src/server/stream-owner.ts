import type { Connection, ConnectionOwner } from '../fanout/connection.js';
import type { HeartbeatWheel } from '../fanout/heartbeat.js';
import type { Subscriptions } from '../fanout/subscriptions.js';
import type { Fleet } from '../fleet/fleet.js';
import type { Principal } from '../types.js';
import { Admission } from './admission.js';
import type { ConnectionRegistry } from './registry.js';
import type { Reporter } from './reporter.js';
import type { ServerCounters } from './stats.js';

/** The server's parts that a stream's opening touched, and so its end must undo. */
export interface StreamOwnerParts<P extends Principal> {
  readonly reporter: Reporter<P>;
  readonly counters: ServerCounters;
  readonly admission: Admission;
  readonly registry: ConnectionRegistry<P>;
  readonly subscriptions: Subscriptions<P>;
  readonly heartbeat: HeartbeatWheel<Connection<P>> | undefined;
  /** Revocation and presence: told of every stream that opens and closes. */
  readonly fleet: Fleet<P>;
}

/**
 * What every stream the server opens reports back to: backpressure and resyncs are counted and
 * told to the hooks; a stream's end undoes what its opening did (the registry, the heartbeat, the
 * fleet, admission, its hubs and their subscriptions), once, then is counted and told.
 */
export function streamOwner<P extends Principal>(parts: StreamOwnerParts<P>): ConnectionOwner<P> {
  const { reporter, counters, registry, heartbeat, admission, subscriptions, fleet } = parts;
  return {
    clock: heartbeat ?? { tick: 0 },
    onBackpressure(connection, action, event) {
      if (action !== 'disconnect') counters.dropped();
      reporter.hook('onClientDropped', connection, action, event);
    },
    onResync() {
      counters.resynced();
    },
    onError: reporter.report,
    onClosed(connection, reason) {
      const memberships = registry.remove(connection);
      if (memberships === undefined) return;
      heartbeat?.remove(connection);
      fleet.closed(connection);
      admission.unadmit(Admission.key(connection.principal));
      for (const { hub, topics } of memberships) {
        hub.remove(connection, topics);
        subscriptions.release(hub);
      }
      if (!connection.opened) return;
      counters.disconnected(reason);
      reporter.debug({ connectionId: connection.id, reason }, 'eventrail: client disconnected');
      reporter.hook('onClientDisconnect', connection, reason);
    },
  };
}
