/**
 * The one connection interface of the Redis broker, whatever the topology: a URL it connects
 * itself (redis-url.ts), clients the caller passes (redis-given.ts), a Redis Cluster
 * (redis-cluster.ts). The broker (redis.ts) and its liveness (redis-liveness.ts) see only this.
 * Also the helpers the three share.
 */
import { EventrailError } from '../errors.js';
import { abortable } from '../util/abortable.js';
import {
  type Listening,
  listen,
  type PublishCommands,
  type PubSubClient,
  type RedisPubSubListener,
} from './redis-modes.js';

/** The commands a publish or a history read sends. */
export interface RedisCommands extends PublishCommands {
  /**
   * A raw command; `key` routes it to the node that owns the key on a cluster (FUNCTION LOAD
   * names no key of its own). Absent when the client cannot send raw commands (no history then).
   */
  sendCommand?(args: string[], key?: string): Promise<unknown>;
}

/** A subscription to put back on a fresh subscriber connection (or to take off at close). */
export interface Resubscription {
  readonly listening: Listening;
  readonly listener: RedisPubSubListener;
}

/**
 * A replacement of the subscriber, as the liveness asks for one. Its deadline bounds the whole of
 * it: a fresh subscriber that cannot connect (a cluster whose topology still names a dead master,
 * say) is dropped and the current one kept, instead of every scope waiting on it.
 */
export interface Replacement {
  /**
   * The subscriptions to carry over, asked for once the fresh subscriber is connected, right before
   * it subscribes: from then on their messages are held until every scope is told of its gap.
   */
  readonly subscriptions: () => Iterable<Resubscription>;
  /** Aborts when the replacement has taken too long. */
  readonly signal: AbortSignal;
}

/** Waits for `step` of a replacement, or rejects once the replacement's `signal` aborts. */
export function replacementStep<T>(step: Promise<T>, signal: AbortSignal): Promise<T> {
  return abortable(
    step,
    signal,
    (value) => value,
    () => {},
  );
}

/** Subscribes every one of `subscriptions` on `client` at once (one round trip, not one each). */
export async function listenAll(
  client: PubSubClient,
  subscriptions: Iterable<Resubscription>,
): Promise<void> {
  await Promise.all(
    Array.from(subscriptions, ({ listening, listener }) => listen(client, listening, listener)),
  );
}

/** A subscriber connection as the broker uses it. */
export type SubscriberClient = PubSubClient & { readonly isReady?: boolean };

/** What a connection tells the broker. */
export interface ConnectionEvents {
  /** A connection failed (each reconnect attempt fails anew while Redis is away): an outage. */
  failure(error: Error): void;
  /** A connection is (again) ready: the outage may be over. */
  up(): void;
  /** The subscriber (re)connected: messages may have been missed meanwhile. */
  gap(): void;
  /** Something the user must hear once that is no outage (Redis cannot serve this mode). */
  report(error: Error): void;
  /** A cluster moves `channel` to another master: delivery on it may have a gap until `moved`. */
  moving(channel: string): void;
  /** `channel` is subscribed on its new master, or, with `error`, that was not confirmed. */
  moved(channel: string, error?: Error): void;
}

/** The broker's connection to Redis, in one of three topologies. */
export interface RedisConnection {
  /** Settles once every connection is up and Redis checked for what the modes need. */
  readonly ready: Promise<void>;
  /** The commands to publish with, withdrawn from the client's queue once `signal` aborts. */
  commands(signal: AbortSignal): RedisCommands;
  /** Whether the connection can send raw commands (a history needs them). */
  readonly sendsCommands: boolean;
  /** The current subscriber. */
  subscriber(): SubscriberClient;
  /** node-redis's own view: every connection of ours is ready. */
  isReady(): boolean;
  /**
   * True when every subscriber connection received its probe within `timeoutMs`; false when one
   * did not (see `silent`); rejects when Redis does not answer. Absent: nothing to probe (given
   * clients, which their owner watches).
   */
  readonly probe?: (timeoutMs: number) => Promise<boolean>;
  /** The masters (`host:port`) whose subscription missed the last probe (a cluster's). */
  silent(): readonly string[];
  /**
   * Replaces the subscriber with a fresh connection carrying the replacement's subscriptions;
   * rejects, keeping the current one, when that fails or its signal aborts first.
   */
  replace(replacement: Replacement): Promise<void>;
  /** Takes a subscription off a subscriber that stays open after `close` (one given to us). */
  leave(subscription: Resubscription): Promise<void>;
  /** Closes what the broker owns within `timeoutMs`; leaves `subscriptions` on a given client. */
  close(subscriptions: readonly Resubscription[], timeoutMs: number): Promise<void>;
}

/** node-redis's per-command options and abort signal, as a single client offers them. */
export interface SignalBinding<C> {
  withCommandOptions?(options: { abortSignal: AbortSignal; timeout: undefined }): C;
  withAbortSignal?(signal: AbortSignal): C;
}

/**
 * `client` with its commands bound to `signal`: node-redis's per-command options (its own timer
 * turned off, the broker's deadline bounds every command) or its abort signal; as it is without.
 */
export function bindSignal<C>(client: C & SignalBinding<C>, signal: AbortSignal): C {
  if (client.withCommandOptions)
    return client.withCommandOptions({ abortSignal: signal, timeout: undefined });
  return client.withAbortSignal?.(signal) ?? client;
}

/** What closing needs of a node-redis client or cluster. */
interface Closable {
  readonly isOpen: boolean;
  readonly isReady?: boolean;
  close(): Promise<unknown>;
  destroy(): void;
}

/** Closes `client` politely within `timeoutMs`, or destroys it. */
export async function closeClient(client: Closable, timeoutMs: number): Promise<void> {
  if (!client.isOpen) return;
  // close() waits for every queued command to be answered: while Redis is unreachable it would
  // never settle (a timed-out PUBLISH stays queued). Nothing to drain then: destroy.
  if (!client.isReady) {
    client.destroy();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    client.close().then(
      () => true,
      () => false,
    ),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (!drained) client.destroy();
}

const SHARD_COMMANDS = ['SSUBSCRIBE', 'SPUBLISH'] as const;

/**
 * Checks that the Redis behind `send` has sharded Pub/Sub: Redis >= 7, with neither command
 * renamed away. When Redis cannot tell (`COMMAND` refused), the commands themselves will fail.
 * @throws {@link EventrailError} `invalid-option` naming what is missing.
 */
export async function assertShardedRedis(
  send: (args: string[]) => Promise<unknown>,
): Promise<void> {
  let reply: unknown;
  try {
    reply = await send(['COMMAND', 'INFO', ...SHARD_COMMANDS]);
  } catch {
    return;
  }
  if (!Array.isArray(reply)) return;
  const entries: unknown[] = reply;
  const missing = SHARD_COMMANDS.filter((_, i) => entries[i] == null);
  if (missing.length > 0) {
    throw new EventrailError(
      'invalid-option',
      `The sharded channel mode needs Redis >= 7 with ${missing.join(' and ')}, which this Redis does not have. Use channels: 'pattern' (and announce: ['pattern']) with it.`,
    );
  }
}
