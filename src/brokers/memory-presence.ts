import type { BrokerPresence } from '../types.js';

/**
 * Presence inside one process: the memory broker's. Its instances share the process, so none can
 * die without the others: entries live until they are removed.
 */
export function createMemoryPresence(): BrokerPresence {
  const scopes = new Map<string, Map<string, Set<string>>>();
  return {
    async update(instance, scopeKey, { add, remove }) {
      let instances = scopes.get(scopeKey);
      if (instances === undefined) {
        instances = new Map();
        scopes.set(scopeKey, instances);
      }
      let users = instances.get(instance);
      if (users === undefined) {
        users = new Set();
        instances.set(instance, users);
      }
      for (const user of add) users.add(user);
      for (const user of remove) users.delete(user);
      if (users.size > 0) return;
      instances.delete(instance);
      if (instances.size === 0) scopes.delete(scopeKey);
    },
    async alive() {
      return true;
    },
    async touch() {
      return [];
    },
    async read(scopeKey) {
      const users = new Set<string>();
      for (const some of scopes.get(scopeKey)?.values() ?? [])
        for (const user of some) users.add(user);
      return [...users];
    },
  };
}
