import type { Sink } from '../adapters/transport.js';
import type { HeartbeatClock } from './heartbeat.js';
import { FLUSH_BYTES, type Flushable, scheduleFlush } from './write-batch.js';

/**
 * The bytes of one browser's stream: what a tick writes leaves in one write (see write-batch.ts),
 * and while the sink reports a full buffer, writes wait here and leave in one write at the drain.
 * It knows nothing of events: {@link Connection} builds them on top of it, and is told when the
 * stream becomes congested, drains, or fails.
 */
export abstract class StreamWriter implements Flushable {
  /**
   * When the sink last reported a full buffer (ms since epoch); undefined while it keeps up.
   * While congested, what is written waits here, and goes out in one write at the next drain.
   */
  private congestedAt: number | undefined;
  /** Callers of {@link writable} waiting for a drain. */
  private waiters: Array<(open: boolean) => void> | undefined;
  /** The first chunk written this tick, not yet handed to the sink (see write-batch.ts). */
  private queued: Uint8Array | undefined;
  /** Further chunks of this tick, in order; undefined while there is at most one. */
  private more: Uint8Array[] | undefined;
  /** Bytes in `queued` and `more`. */
  private queuedBytes = 0;
  private ended = false;
  private sink: Sink | undefined;
  /** The heartbeat tick of the last write (see heartbeat.ts). */
  #lastWrite = 0;

  constructor(private readonly clock: HeartbeatClock) {}

  /** The heartbeat tick of the stream's last write (see heartbeat.ts). */
  get lastWrite(): number {
    return this.#lastWrite;
  }

  /** True once the connection has its stream. */
  get opened(): boolean {
    return this.sink !== undefined;
  }

  /** True once the stream has ended for any reason. */
  get closed(): boolean {
    return this.ended;
  }

  /** True while the transport's buffer is full: writes wait here until it drains. */
  get congested(): boolean {
    return this.congestedAt !== undefined;
  }

  /** When the stream became congested (ms since epoch); undefined while it keeps up. */
  protected get congestedSince(): number | undefined {
    return this.congestedAt;
  }

  /** Bytes waiting for the client: in the transport, and queued here. */
  protected get waitingBytes(): number {
    return (this.sink?.buffered() ?? 0) + this.queuedBytes;
  }

  /**
   * Resolves once the stream can take more: at once when it is not congested, else at the next
   * drain; false once it has ended. A replay awaits it between writes, so that it writes only as
   * fast as the client reads.
   */
  writable(): Promise<boolean> {
    if (this.ended) return Promise.resolve(false);
    if (!this.congested) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.waiters ??= [];
      this.waiters.push(resolve);
    });
  }

  /** Gives the connection its stream, whose opening carried its first bytes; nothing is written before. */
  attach(sink: Sink): void {
    this.sink = sink;
    this.#lastWrite = this.clock.tick;
  }

  /**
   * The transport's buffer has emptied: what waited meanwhile goes out now in one write, then
   * what the connection kept for the drain ({@link drainedWith}); a replay waiting for it goes on.
   */
  drained(): void {
    if (this.congestedAt !== undefined && !this.ended) {
      this.congestedAt = undefined;
      this.congestionEnded();
      this.flushQueued();
      this.drainedWith();
    }
    this.wake(!this.ended);
  }

  /** Writes what this tick queued (called by the batch; a no-op when already flushed or congested). */
  flush(): void {
    if (this.ended || this.congested) return;
    try {
      this.flushQueued();
    } catch (err) {
      // Runs from setImmediate: an error thrown here would end the process.
      this.flushFailed(err);
    }
  }

  /** The stream became congested: its bytes now wait for a drain. */
  protected abstract congestionBegan(): void;
  /** The stream drained, before what waited goes out. */
  protected abstract congestionEnded(): void;
  /** The stream drained, after what waited went out: the connection writes what it kept. */
  protected abstract drainedWith(): void;
  /** The transport threw on a write: it is gone. */
  protected abstract writeFailed(): void;
  /** A flush at the end of a tick failed, where nobody else could catch it. */
  protected abstract flushFailed(error: unknown): void;

  /**
   * Queues a whole frame for this tick's flush (one write per connection per tick), or, while
   * congested, until the next drain. Returns false once the connection has ended.
   */
  protected write(chunk: Uint8Array): boolean {
    if (this.sink === undefined || this.ended) return false;
    this.#lastWrite = this.clock.tick;
    if (this.queued === undefined) {
      this.queued = chunk;
      scheduleFlush(this);
    } else if (this.more === undefined) this.more = [chunk];
    else this.more.push(chunk);
    this.queuedBytes += chunk.byteLength;
    // A large burst goes out at once: the transport then reports a full buffer in time.
    if (this.queuedBytes >= FLUSH_BYTES && !this.congested) this.flushQueued();
    return !this.ended;
  }

  /** Marks the stream ended and wakes the writers waiting for a drain; false when it already was. */
  protected end(): boolean {
    if (this.ended) return false;
    this.ended = true;
    this.wake(false);
    return true;
  }

  /** Ends the transport gracefully: what is queued goes out, then `retry` (when given). */
  protected endSink(retry: Uint8Array | undefined): void {
    this.flushQueued();
    if (retry) this.sink?.write(retry);
    this.sink?.end();
  }

  /** Ends the transport at once. */
  protected destroySink(): void {
    this.sink?.destroy();
  }

  /** Forgets what was queued and not yet written. */
  protected dropQueued(): void {
    this.queued = undefined;
    this.more = undefined;
    this.queuedBytes = 0;
  }

  private wake(open: boolean): void {
    const waiters = this.waiters;
    this.waiters = undefined;
    if (waiters) for (const resolve of waiters) resolve(open);
  }

  private flushQueued(): void {
    const first = this.queued;
    const sink = this.sink;
    if (first === undefined || sink === undefined) return;
    const more = this.more;
    const bytes = this.queuedBytes;
    this.queued = undefined;
    this.more = undefined;
    this.queuedBytes = 0;
    const chunk = more === undefined ? first : Buffer.concat([first, ...more], bytes);
    try {
      if (!sink.write(chunk) && this.congestedAt === undefined) {
        this.congestedAt = Date.now();
        this.congestionBegan();
      }
    } catch {
      // A transport that throws on write is gone; treat it as the peer leaving.
      this.writeFailed();
    }
  }
}
