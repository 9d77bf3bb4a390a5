/**
 * Presence on Redis. For a scope `gym:1`, each instance keeps a hash of its users,
 * `{prefix}eventrail:presence:{gym:1}:{instance}` (field: user id), which expires `ttlMs` after its
 * last refresh, and the scope keeps a set of the instances that wrote one,
 * `{prefix}eventrail:presence:{gym:1}`. Both carry the scope's hash tag: on a Redis Cluster they
 * live on the scope's shard, beside its history and its shard channel.
 *
 * Costs: a user's first stream in a scope on an instance is one `HSET` (four commands when the
 * instance had nobody there: `HSET`, `PEXPIRE`, `SADD`, `PEXPIRE`), its last one leaving one
 * `HDEL` (plus `SREM` when the instance has nobody left); a refresh three commands per scope the
 * instance has users in (`PEXPIRE`, `SADD`, `PEXPIRE`), sent at once; a read one `SMEMBERS` and one
 * `HKEYS` per instance listed, and the removal of instances whose hash expired.
 */
import type { BrokerPresence } from '../types.js';

/** Sends one command to the node that holds `key` (a cluster routes by it). */
export type KeyedCommand = (args: string[], key: string) => Promise<unknown>;

/** The Redis presence store, its keys under `keyPrefix`. */
export function createRedisPresence(send: KeyedCommand, keyPrefix: string): BrokerPresence {
  const indexKey = (scopeKey: string): string => `${keyPrefix}eventrail:presence:{${scopeKey}}`;
  const instanceKey = (scopeKey: string, instance: string): string =>
    `${indexKey(scopeKey)}:${instance}`;
  return {
    async update(instance, scopeKey, { add, remove, fresh, empty, ttlMs }) {
      const index = indexKey(scopeKey);
      const own = instanceKey(scopeKey, instance);
      const ttl = String(ttlMs);
      const sent: Promise<unknown>[] = [];
      if (add.length > 0) {
        sent.push(send(['HSET', own, ...add.flatMap((user) => [user, '1'])], own));
        if (fresh) {
          sent.push(send(['PEXPIRE', own, ttl], own));
          sent.push(send(['SADD', index, instance], index));
          sent.push(send(['PEXPIRE', index, ttl], index));
        }
      }
      if (remove.length > 0) sent.push(send(['HDEL', own, ...remove], own));
      if (empty) sent.push(send(['SREM', index, instance], index));
      await Promise.all(sent);
    },
    async refresh(instance, scopeKeys, ttlMs) {
      const ttl = String(ttlMs);
      const kept = await Promise.all(
        scopeKeys.map(async (scopeKey) => {
          const index = indexKey(scopeKey);
          const own = instanceKey(scopeKey, instance);
          const [alive] = await Promise.all([
            send(['PEXPIRE', own, ttl], own),
            send(['SADD', index, instance], index),
            send(['PEXPIRE', index, ttl], index),
          ]);
          return Number(alive) === 1;
        }),
      );
      return scopeKeys.filter((_, i) => !kept[i]);
    },
    async read(scopeKey) {
      const index = indexKey(scopeKey);
      const instances = ((await send(['SMEMBERS', index], index)) as unknown[]).map(String);
      const lists = await Promise.all(
        instances.map(async (instance) => {
          const own = instanceKey(scopeKey, instance);
          return ((await send(['HKEYS', own], own)) as unknown[]).map(String);
        }),
      );
      const users = new Set<string>();
      const gone: string[] = [];
      lists.forEach((list, i) => {
        if (list.length === 0) gone.push(instances[i] as string);
        for (const user of list) users.add(user);
      });
      // An instance whose hash expired (it died) leaves the index; a live one writes itself back
      // on its next refresh, should this race its first join.
      if (gone.length > 0) await send(['SREM', index, ...gone], index);
      return [...users];
    },
  };
}

/** Runs a Redis call within the broker's command deadline, its failure a `broker-error`. */
export type Bounded = <T>(what: string, run: () => Promise<T>) => Promise<T>;

/** The store with every call bounded by the broker's deadline. */
export function boundedPresence(store: BrokerPresence, bounded: Bounded): BrokerPresence {
  return {
    update: (instance, scopeKey, change) =>
      bounded(`presence update of ${scopeKey}`, () => store.update(instance, scopeKey, change)),
    refresh: (instance, scopeKeys, ttlMs) =>
      bounded('presence refresh', () => store.refresh(instance, scopeKeys, ttlMs)),
    read: (scopeKey) => bounded(`presence read of ${scopeKey}`, () => store.read(scopeKey)),
  };
}
