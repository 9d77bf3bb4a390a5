/** The students of each gym: the demo's data, in memory or (store-redis.ts) shared in Redis. */

/** One student of one gym. */
export interface Student {
  /** Unique within the gym; what `students.changed` carries as `{"id": ...}`. */
  readonly id: number;
  readonly name: string;
  /** The user who added the student. */
  readonly addedBy: string;
  /** Epoch milliseconds. */
  readonly addedAt: number;
}

/** What the app needs from a store. */
export interface StudentStore {
  /** The gym's students, oldest first. */
  list(gym: number): Promise<Student[]>;
  add(gym: number, name: string, addedBy: string): Promise<Student>;
  /** True when the student existed. */
  remove(gym: number, id: number): Promise<boolean>;
  close(): Promise<void>;
}

/** A store in this process only: the embedded default, when REDIS_URL is not set. */
export function createMemoryStore(): StudentStore {
  const gyms = new Map<number, { nextId: number; students: Map<number, Student> }>();
  const gymOf = (gym: number) => {
    let entry = gyms.get(gym);
    if (entry === undefined) {
      entry = { nextId: 1, students: new Map() };
      gyms.set(gym, entry);
    }
    return entry;
  };
  return {
    async list(gym) {
      return [...(gyms.get(gym)?.students.values() ?? [])];
    },
    async add(gym, name, addedBy) {
      const entry = gymOf(gym);
      const student: Student = { id: entry.nextId++, name, addedBy, addedAt: Date.now() };
      entry.students.set(student.id, student);
      return student;
    },
    async remove(gym, id) {
      return gyms.get(gym)?.students.delete(id) ?? false;
    },
    async close() {},
  };
}
