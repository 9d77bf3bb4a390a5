/**
 * The store in Redis, shared by every instance. Keys, all under {@link KEY_PREFIX}:
 *   eventrail-demo:gym:<id>:next-id    INCR counter of student ids
 *   eventrail-demo:gym:<id>:students   hash: student id -> JSON of the student
 */
import { createClient } from 'redis';
import type { Student, StudentStore } from './store.js';

export const KEY_PREFIX = 'eventrail-demo:';

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

/** Connects to Redis at `url`; the store owns the connection and closes it in `close()`. */
export async function createRedisStore(
  url: string,
  onError: (error: Error) => void,
): Promise<StudentStore> {
  const client = createClient({ url });
  // node-redis emits an error per reconnect attempt: report the first one of an outage only.
  let down = false;
  client.on('error', (err: unknown) => {
    if (down) return;
    down = true;
    onError(new Error('the student store lost Redis; reconnecting', { cause: err }));
  });
  client.on('ready', () => {
    if (down) console.log('[store] Redis back');
    down = false;
  });
  await client.connect();
  const studentsKey = (gym: number) => `${KEY_PREFIX}gym:${gym}:students`;
  return {
    async list(gym) {
      const all = await client.hGetAll(studentsKey(gym));
      const students: Student[] = [];
      for (const json of Object.values(all)) {
        const student = parseStudent(json);
        if (student) students.push(student);
      }
      return students.sort((a, b) => a.id - b.id);
    },
    async add(gym, name, addedBy) {
      const id = await client.incr(`${KEY_PREFIX}gym:${gym}:next-id`);
      const student: Student = { id, name, addedBy, addedAt: Date.now() };
      await client.hSet(studentsKey(gym), String(id), JSON.stringify(student));
      return student;
    },
    async remove(gym, id) {
      return (await client.hDel(studentsKey(gym), String(id))) > 0;
    },
    async close() {
      if (client.isOpen) await client.close();
    },
  };
}
