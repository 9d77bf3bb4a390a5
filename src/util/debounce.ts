/** A debounce that fires at most once per `ms`: the first call starts it, later ones join it. */
export class Debounce<T> {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  constructor(
    private readonly ms: number,
    private readonly fire: (key: string, value: T) => void,
  ) {}
  /** Fires `key` with `value` in `ms`, unless it is already waiting (then this joins it). */
  touch(key: string, value: T): void {
    if (this.#timers.has(key)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.fire(key, value);
    }, this.ms);
    timer.unref();
    this.#timers.set(key, timer);
  }
  /** Cancels everything waiting. */
  stop(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
