/**
 * The store in Redis, shared by every instance: one Redis (REDIS_URL) or a Redis Cluster
 * (REDIS_CLUSTER). Keys, all under {@link KEY_PREFIX}:
 *   eventrail-demo:{gym:<id>}:next-id    INCR counter of student ids
 *   eventrail-demo:{gym:<id>}:students   hash: student id -> JSON of the student
 * The hash tag `{gym:<id>}` puts every key of a gym in one slot, so that `add` (one script over
 * both keys) runs on a cluster too; it is the slot of eventrail's own keys for scope `gym:<id>`
 * (its shard channel and history), so a gym lives on one shard.
 */
import { createClient, createCluster } from 'redis';
import type { RedisTarget } from '../shared/broker-env.js';
import type { Student, StudentStore } from './store.js';

export const KEY_PREFIX = 'eventrail-demo:';

/** The keys of `gym`, in one slot. */
export function gymKeys(gym: number): { readonly nextId: string; readonly students: string } {
  const tag = `${KEY_PREFIX}{gym:${gym}}`;
  return { nextId: `${tag}:next-id`, students: `${tag}:students` };
}

// Takes the next id and stores the student under it, atomically: no id is taken without its
// student. ARGV[1] is the student's JSON without its id; the script puts `"id":<n>,` first.
const ADD = `local id = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], tostring(id), '{"id":' .. id .. ',' .. string.sub(ARGV[1], 2))
return id`;

function parseStudent(json: string): Student | undefined {
  try {
    const value = JSON.parse(json) as Partial<Student>;
    if (typeof value.id !== 'number' || typeof value.name !== 'string') return undefined;
    return {
      id: value.id,
      name: value.name,
      addedBy: typeof value.addedBy === 'string' ? value.addedBy : '',
      addedAt: typeof value.addedAt === 'number' ? value.addedAt : 0,
    };
  } catch {
    return undefined;
  }
}

/** The commands the store sends; one client and a cluster client both have them. */
interface StoreClient {
  hGetAll(key: string): Promise<Record<string, string>>;
  hDel(key: string, field: string): Promise<number>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  readonly isOpen: boolean;
  close(): Promise<unknown>;
}

/**
 * Connects to `redis`; the store owns the connections and closes them in `close()`. `onError`
 * hears of the first failure of an outage only (node-redis reports every reconnect attempt).
 */
export async function createRedisStore(
  redis: RedisTarget,
  onError: (error: Error) => void,
): Promise<StudentStore> {
  let down = false;
  const failed = (err: unknown): void => {
    if (down) return;
    down = true;
    onError(new Error('the student store lost Redis; reconnecting', { cause: err }));
  };
  const ready = (): void => {
    if (down) console.log('[store] Redis back');
    down = false;
  };
  let client: StoreClient;
  if ('cluster' in redis) {
    let closed = false;
    const cluster = createCluster({
      rootNodes: redis.cluster.rootNodes.map(({ url }) => ({ url })),
      // Once closed, a node connection node-redis lost track of must not retry for ever.
      defaults: {
        socket: {
          reconnectStrategy: (retries) => (closed ? false : Math.min(50 * 2 ** retries, 2000)),
        },
      },
    });
    cluster.on('error', failed);
    cluster.on('node-error', failed);
    cluster.on('node-ready', ready);
    await cluster.connect();
    client = {
      hGetAll: (key) => cluster.hGetAll(key),
      hDel: (key, field) => cluster.hDel(key, field),
      eval: (script, options) => cluster.eval(script, options),
      get isOpen() {
        return cluster.isOpen;
      },
      close: () => {
        closed = true;
        return cluster.close();
      },
    };
  } else {
    const single = createClient({ url: redis.url });
    single.on('error', failed);
    single.on('ready', ready);
    await single.connect();
    client = single;
  }
  return {
    async list(gym) {
      const all = await client.hGetAll(gymKeys(gym).students);
      const students: Student[] = [];
      for (const json of Object.values(all)) {
        const student = parseStudent(json);
        if (student) students.push(student);
      }
      return students.sort((a, b) => a.id - b.id);
    },
    async add(gym, name, addedBy) {
      const keys = gymKeys(gym);
      const addedAt = Date.now();
      const id = Number(
        await client.eval(ADD, {
          keys: [keys.nextId, keys.students],
          arguments: [JSON.stringify({ name, addedBy, addedAt })],
        }),
      );
      return { id, name, addedBy, addedAt };
    },
    async remove(gym, id) {
      return (await client.hDel(gymKeys(gym).students, String(id))) > 0;
    },
    async close() {
      if (client.isOpen) await client.close();
    },
  };
}
