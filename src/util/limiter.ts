/**
 * At most `limit` tasks at once; the others wait their turn in the order they came (FIFO). A task
 * that throws frees its slot like one that resolves.
 */
export class Limiter {
  #running = 0;
  #peak = 0;
  /** Tasks waiting for a slot, oldest at `#head` (a growing array read from an index: O(1)). */
  #queue: Array<() => void> = [];
  #head = 0;

  constructor(readonly limit: number) {}

  /** Tasks running now. */
  get running(): number {
    return this.#running;
  }

  /** Tasks waiting for a slot now. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** The most tasks that ever ran at once. */
  get peak(): number {
    return this.#peak;
  }

  /** Runs `task` once a slot is free; settles as it does. */
  run<T>(task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        this.#running++;
        if (this.#running > this.#peak) this.#peak = this.#running;
        let running: Promise<T>;
        try {
          running = task();
        } catch (err) {
          running = Promise.reject(err);
        }
        running.then(resolve, reject).finally(() => this.#next());
      };
      if (this.#running < this.limit) start();
      else this.#queue.push(start);
    });
  }

  /** A slot is free: the oldest waiting task takes it. */
  #next(): void {
    this.#running--;
    if (this.#head === this.#queue.length) return;
    const start = this.#queue[this.#head] as () => void;
    this.#head++;
    // Drop what was read once it is half the array, so the queue does not grow for ever.
    if (this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    start();
  }
}
