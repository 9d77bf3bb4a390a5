import { EventrailError } from '../errors.js';
import type { Connection } from '../fanout/connection.js';
import type { Hub } from '../fanout/hub.js';
import type {
  Broker,
  BrokerMessage,
  Principal,
  PrincipalResolver,
  Router,
  SseRequest,
} from '../types.js';
import { connectionId } from '../util/connection-id.js';
import { isControl, publishPresenceChange, readControl, targetScope } from './control.js';
import type { ResolvedFleet } from './options.js';
import { Presence, type ScopePresence } from './presence.js';
import { Revocations } from './revocation.js';

/** What the fleet needs from the server. */
export interface FleetContext<P extends Principal> {
  readonly broker: Broker;
  readonly options: ResolvedFleet<P>;
  readonly resolver: PrincipalResolver<P>;
  readonly router: Router<P>;
  readonly maxRoutes: number;
  revoke(connection: Connection<P>): void;
  report(error: unknown): void;
}

/**
 * One server's part in the fleet: control messages taken off its hubs' channels, revocation, and
 * presence. The server calls it when a stream opens and closes.
 */
export class Fleet<P extends Principal> {
  readonly #revocations: Revocations<P>;
  readonly #presence: Presence<P> | undefined;
  /** The scope keys each open stream was counted in. */
  readonly #scopes = new Map<Connection<P>, readonly string[]>();

  constructor(ctx: FleetContext<P>) {
    this.#revocations = new Revocations<P>({ ...ctx.options, ...ctx });
    const { presence } = ctx.options;
    const store = ctx.broker.presence;
    if (presence === undefined) return;
    if (store === undefined) {
      throw new EventrailError(
        'invalid-option',
        'presence needs a broker that keeps it (the memory and Redis brokers do).',
      );
    }
    const instance = connectionId();
    this.#presence = new Presence<P>({
      options: presence,
      store,
      instance,
      announce: (key) => publishPresenceChange(ctx.broker, key, instance),
      report: ctx.report,
    });
  }

  /** Takes a control message off a hub's channel; false for anything else (an event). */
  control(hub: Hub<P>, message: BrokerMessage): boolean {
    if (!isControl(hub.key, message)) return false;
    const control = readControl(message.payload);
    if (control?.op === 'revoke') this.#revocations.revokeIn(hub, control);
    else if (control?.op === 'presence') this.#presence?.changed(hub);
    return true;
  }

  /** A stream opened (it is attached and in its hubs). */
  opened(connection: Connection<P>, request: SseRequest, keys: readonly string[]): void {
    this.#scopes.set(connection, keys);
    this.#revocations.opened(connection, request);
    this.#presence?.joined(connection, keys);
  }

  closed(connection: Connection<P>): void {
    const keys = this.#scopes.get(connection);
    if (keys === undefined) return;
    this.#scopes.delete(connection);
    this.#revocations.closed(connection);
    this.#presence?.left(connection, keys);
  }

  /**
   * @throws {@link EventrailError} `invalid-option` when the server keeps no presence.
   */
  presence(scopeKey: string): Promise<ScopePresence> {
    if (this.#presence === undefined) {
      return Promise.reject(
        new EventrailError(
          'invalid-option',
          'presence is off: pass createSseServer({ presence: true }).',
        ),
      );
    }
    try {
      return this.#presence.read(targetScope(scopeKey));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Stops the timers and takes this instance out of the presence. */
  async stop(): Promise<void> {
    this.#revocations.stop();
    await this.#presence?.stop();
  }
}
