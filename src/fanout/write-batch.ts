/**
 * Per-tick write batching. Fan-out hands a connection one frame per event; writing each at once
 * costs one write (and often one syscall) per event per connection, which dominates the server's
 * time when events come in bursts. Instead a connection queues what it is given and asks to be
 * flushed once per tick: one write per connection per tick, however many events it got.
 */

/** Something with bytes queued, flushed once per tick. */
export interface Flushable {
  /** Writes whatever is queued; does nothing when that was already written. */
  flush(): void;
}

/**
 * Bytes a connection queues before it flushes at once instead of at the end of the tick: a bound
 * on the memory one tick's burst can take, and what lets the transport report a full buffer (and
 * backpressure apply) within the same tick. node's stream high-water mark.
 */
export const FLUSH_BYTES = 16 * 1024;

let due: Flushable[] = [];
let scheduled = false;

function flushAll(): void {
  const batch = due;
  due = [];
  scheduled = false;
  for (const target of batch) target.flush();
}

/**
 * Flushes `target` once the current tick's I/O callbacks have run (setImmediate), so that every
 * event of a burst read from the broker in one go leaves in one write. A target that flushed early
 * may be scheduled again in the same tick: its `flush` must be idempotent.
 */
export function scheduleFlush(target: Flushable): void {
  due.push(target);
  if (scheduled) return;
  scheduled = true;
  setImmediate(flushAll);
}
