/**
 * Presence on Redis. For a scope `gym:1`, each instance keeps a hash of its users,
 * `{prefix}eventrail:presence:{gym:1}:{instance}` (field: user id), and the scope keeps a set of
 * the instances that wrote one, `{prefix}eventrail:presence:{gym:1}`; both carry the scope's hash
 * tag, so on a Redis Cluster they live on the scope's shard, beside its history and its shard
 * channel. Each instance marks itself alive in `{prefix}eventrail:presence-instance:{instance}`
 * (its own slot), which expires `ttlMs` after its last renewal: a reader counts the users of the
 * instances whose mark holds, and deletes what the others left (an id counted out never writes
 * again, see BrokerPresence). Hashes and sets also expire `keepMs` after their last write or touch.
 *
 * Costs: a user's first stream in a scope on an instance is one `HSET` (four commands when the
 * instance had nobody there: `HSET`, `PEXPIRE`, `SADD`, `PEXPIRE`), its last one leaving one
 * `HDEL` (plus `SREM` when the instance has nobody left); the renewal of an instance's mark one
 * `SET` per interval, whatever its scopes; a touch three commands per scope, each scope touched
 * once per `keepMs / 2`; a read one `SMEMBERS`, then one `EXISTS` and one `HKEYS` per instance
 * listed, sent at once, and the removal of the dead ones' entries.
 */
import type { BrokerPresence } from '../types.js';

/** Sends one command to the node that holds `key` (a cluster routes by it). */
export type KeyedCommand = (args: string[], key: string) => Promise<unknown>;

/** The Redis presence store, its keys under `keyPrefix`. */
export function createRedisPresence(send: KeyedCommand, keyPrefix: string): BrokerPresence {
  const indexKey = (scopeKey: string): string => `${keyPrefix}eventrail:presence:{${scopeKey}}`;
  const instanceKey = (scopeKey: string, instance: string): string =>
    `${indexKey(scopeKey)}:${instance}`;
  const aliveKey = (instance: string): string =>
    `${keyPrefix}eventrail:presence-instance:{${instance}}`;
  /** Keeps an instance's entry in a scope, and the scope's index, for `keep` ms; lists it there. */
  const keep = (scopeKey: string, instance: string, keepMs: number): Promise<unknown>[] => {
    const index = indexKey(scopeKey);
    const own = instanceKey(scopeKey, instance);
    const ms = String(keepMs);
    return [
      send(['PEXPIRE', own, ms], own),
      send(['SADD', index, instance], index),
      send(['PEXPIRE', index, ms], index),
    ];
  };
  return {
    async update(instance, scopeKey, { add, remove, fresh, empty, keepMs }) {
      const index = indexKey(scopeKey);
      const own = instanceKey(scopeKey, instance);
      const sent: Promise<unknown>[] = [];
      if (add.length > 0) {
        sent.push(send(['HSET', own, ...add.flatMap((user) => [user, '1'])], own));
        if (fresh) sent.push(...keep(scopeKey, instance, keepMs));
      }
      if (remove.length > 0) sent.push(send(['HDEL', own, ...remove], own));
      if (empty) sent.push(send(['SREM', index, instance], index));
      await Promise.all(sent);
    },
    async alive(instance, ttlMs, renew) {
      const key = aliveKey(instance);
      const args = ['SET', key, '1', 'PX', String(ttlMs)];
      return (await send(renew ? [...args, 'XX'] : args, key)) !== null;
    },
    async touch(instance, scopeKeys, keepMs) {
      const kept = await Promise.all(
        scopeKeys.map(async (scopeKey) => {
          const [present] = await Promise.all(keep(scopeKey, instance, keepMs));
          return Number(present) === 1;
        }),
      );
      return scopeKeys.filter((_, i) => !kept[i]);
    },
    async read(scopeKey) {
      const index = indexKey(scopeKey);
      const instances = ((await send(['SMEMBERS', index], index)) as unknown[]).map(String);
      const listed = await Promise.all(
        instances.map(async (instance) => {
          const own = instanceKey(scopeKey, instance);
          const alive = aliveKey(instance);
          const [exists, users] = await Promise.all([
            send(['EXISTS', alive], alive),
            send(['HKEYS', own], own),
          ]);
          return {
            instance,
            own,
            alive: Number(exists) === 1,
            users: (users as unknown[]).map(String),
          };
        }),
      );
      const users = new Set<string>();
      const gone: string[] = [];
      const sent: Promise<unknown>[] = [];
      for (const entry of listed) {
        if (entry.alive) {
          for (const user of entry.users) users.add(user);
          continue;
        }
        // Its mark expired: it never writes under this id again (a live instance with an empty
        // entry is left listed: it may be writing its first user there right now).
        gone.push(entry.instance);
        if (entry.users.length > 0) sent.push(send(['DEL', entry.own], entry.own));
      }
      if (gone.length > 0) sent.push(send(['SREM', index, ...gone], index));
      await Promise.all(sent);
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
    alive: (instance, ttlMs, renew) =>
      bounded('presence mark', () => store.alive(instance, ttlMs, renew)),
    touch: (instance, scopeKeys, keepMs) =>
      bounded('presence touch', () => store.touch(instance, scopeKeys, keepMs)),
    read: (scopeKey) => bounded(`presence read of ${scopeKey}`, () => store.read(scopeKey)),
  };
}
