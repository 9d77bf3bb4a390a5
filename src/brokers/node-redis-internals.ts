/**
 * The one place eventrail reads node-redis's private cluster fields: the slot-move follower needs
 * each master's shard Pub/Sub connection (`master.pubSub.client`, or `connectPromise` while it
 * connects) and its listener table (`getPubSubListeners('SHARDED')`). Proven on node-redis 5.x
 * and 6.x (test/node-redis-internals.test.ts, the `redis` peer range); {@link missingInternals}
 * checks them at start-up, so that a release that renames them is said loudly, not followed
 * silently.
 */
import type { RedisPubSubListener } from './redis-modes.js';

/** A master's shard Pub/Sub connection, as the move follower uses it. */
export interface ShardConnection {
  on(event: 'sharded-channel-moved', listener: (channel: string) => void): unknown;
  sSubscribe(channel: string, listener: RedisPubSubListener): Promise<unknown>;
  sUnsubscribe(channel: string, listener: RedisPubSubListener): Promise<unknown>;
}

/** What the follower reads of a master node. */
interface MasterNode {
  readonly address?: unknown;
  readonly pubSub?: {
    readonly client?: unknown;
    readonly connectPromise?: Promise<unknown>;
  };
}

/** What the follower reads of a node-redis cluster client. */
export interface ClusterFields {
  readonly masters: readonly object[];
  readonly slots: ReadonlyArray<{ readonly master: object } | undefined>;
}

const isFunction = (value: unknown, name: string): boolean =>
  typeof (value as Record<string, unknown> | undefined)?.[name] === 'function';

function isShardConnection(value: unknown): value is ShardConnection {
  return (
    isFunction(value, 'on') &&
    isFunction(value, 'sSubscribe') &&
    isFunction(value, 'sUnsubscribe') &&
    isFunction(value, 'getPubSubListeners')
  );
}

/** The shard Pub/Sub connections of the cluster's masters that have one. */
export function shardConnections(cluster: ClusterFields): ShardConnection[] {
  const found: ShardConnection[] = [];
  for (const master of cluster.masters as readonly MasterNode[]) {
    const client = master.pubSub?.client;
    if (isShardConnection(client)) found.push(client);
  }
  return found;
}

/**
 * The shard Pub/Sub connection of `slot`'s master once it is connected, when `channel` is among
 * its listeners there (node-redis has moved it); undefined otherwise.
 */
export async function shardListening(
  cluster: ClusterFields,
  slot: number,
  channel: string,
): Promise<ShardConnection | undefined> {
  const pubSub = (cluster.slots[slot]?.master as MasterNode | undefined)?.pubSub;
  if (pubSub === undefined) return undefined;
  const client: unknown = await (pubSub.connectPromise ?? pubSub.client);
  if (!isShardConnection(client)) return undefined;
  const listeners = (
    client as unknown as { getPubSubListeners(type: 'SHARDED'): ReadonlyMap<string, unknown> }
  ).getPubSubListeners('SHARDED');
  return listeners.has(channel) ? client : undefined;
}

/**
 * The private fields the follower needs that `cluster` lacks, by name; empty when all are there.
 * Call it once every master has a shard subscription (then each has its Pub/Sub connection).
 */
export function missingInternals(cluster: ClusterFields): string[] {
  const missing: string[] = [];
  if (!Array.isArray(cluster.masters) || cluster.masters.length === 0) missing.push('masters');
  if (!Array.isArray(cluster.slots) || cluster.slots.length !== 16384) missing.push('slots');
  if (missing.length > 0) return missing;
  const master = cluster.masters[0] as MasterNode;
  const pubSub = master.pubSub;
  if (pubSub === undefined || typeof pubSub !== 'object') return ['master.pubSub'];
  if (!('connectPromise' in pubSub)) missing.push('master.pubSub.connectPromise');
  const client = pubSub.client;
  if (client === undefined) return [...missing, 'master.pubSub.client'];
  for (const name of ['on', 'sSubscribe', 'sUnsubscribe', 'getPubSubListeners'])
    if (!isFunction(client, name)) missing.push(`master.pubSub.client.${name}`);
  if (isFunction(client, 'getPubSubListeners')) {
    const table: unknown = (
      client as { getPubSubListeners(type: string): unknown }
    ).getPubSubListeners('SHARDED');
    if (!isFunction(table, 'has'))
      missing.push("master.pubSub.client.getPubSubListeners('SHARDED')");
  }
  if (cluster.slots[0]?.master === undefined) missing.push('slots[n].master');
  return missing;
}

/**
 * Whether a cluster client is ready: node-redis 6's `isReady`, or on 5.x (which has none) every
 * master's node connection that exists.
 */
export function clusterReady(cluster: ClusterFields): boolean {
  const own = (cluster as { readonly isReady?: unknown }).isReady;
  if (typeof own === 'boolean') return own;
  const masters = cluster.masters as ReadonlyArray<{
    readonly client?: { readonly isReady?: boolean };
  }>;
  return masters.length > 0 && masters.every((master) => master.client?.isReady !== false);
}
