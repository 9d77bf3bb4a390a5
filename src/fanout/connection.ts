import type { Sink } from '../adapters/transport.js';
import type {
  BackpressurePolicy,
  ClientInfo,
  DisconnectReason,
  OutgoingEvent,
  Principal,
} from '../types.js';
import {
  formatEventId,
  isNewMark,
  markedPositions,
  type Position,
  type PositionMarks,
  positionMarks,
  setMark,
} from '../wire/event-ids.js';
import { RESYNC_EVENT } from '../wire/protocol.js';
import { formatComment, formatEvent } from '../wire/sse-format.js';
import type { Frame } from './frame.js';
import type { Beating, HeartbeatClock } from './heartbeat.js';
import { type Stallable, unwatchStall, watchStall } from './stall-watch.js';
import { FLUSH_BYTES, type Flushable, scheduleFlush } from './write-batch.js';

/**
 * How much a connection may buffer, and what happens beyond. A connection is judged by whether it
 * drains, never by how many events one tick wrote to it: a burst to a client that reads goes out
 * whole, however many events it holds.
 */
export interface BufferLimits {
  /** `coalesce`: the most event names that may wait, merged, while congested; past it, a resync. */
  readonly bufferSize: number;
  /** Bytes waiting (in the transport and queued here) before backpressure applies. */
  readonly maxBufferedBytes: number;
  /** How long the transport may stay congested without a drain before backpressure applies. */
  readonly maxStallMs: number;
  readonly policy: BackpressurePolicy;
}

/** What a connection reports back to the server that owns it. */
export interface ConnectionOwner<P extends Principal> {
  /** Backpressure acted on this connection. */
  onBackpressure(connection: Connection<P>, action: BackpressurePolicy, event: OutgoingEvent): void;
  /** A resync was written to this connection. */
  onResync(connection: Connection<P>): void;
  /** The connection ended for good; remove it from everything. Called once. */
  onClosed(connection: Connection<P>, reason: DisconnectReason): void;
  /** Something failed in a flush at the end of a tick, where nobody else could catch it. */
  onError(error: unknown): void;
  /** The heartbeat's clock: every write records its tick (see heartbeat.ts). */
  readonly clock: HeartbeatClock;
}

/** Live events a connection may hold back while its replay runs, before it gives up and resyncs. */
const MAX_HELD = 10_000;

/** What `onClientDropped` hears when a stalled stream is cut before any event was written to it. */
const NO_EVENT: OutgoingEvent = { name: RESYNC_EVENT, data: '{}' };

/**
 * One browser's stream on this instance. Holds no timer and no per-event closure: the server's
 * heartbeat and the hubs' fan-out call into it. With a history it tracks, per scope, the position
 * of the last event it wrote, which both dedupes (replay and live may overlap) and makes its ids.
 */
export class Connection<P extends Principal = Principal>
  implements ClientInfo<P>, Flushable, Beating, Stallable
{
  /**
   * When the sink last reported a full buffer (ms since epoch); undefined while it keeps up.
   * While congested, what is written waits here, and goes out in one write at the next drain.
   */
  private congestedAt: number | undefined;
  /** The newest event handed to this stream, for the hook of a stream cut while stalled. */
  private lastEvent: OutgoingEvent | undefined;
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
  /** Live frames held back while a replay runs; undefined once live. */
  private held: Array<[Frame, number]> | undefined = [];
  /** An event was dropped or could not be held: the client must resync before anything else. */
  private lost = false;
  /** `coalesce`: the newest waiting frame of each event name, oldest name first. */
  private coalesced: Map<string, [Frame, number]> | undefined;
  /** Where the stream stands per scope (see {@link positions}). */
  private marks: PositionMarks | undefined;
  /** When the stream opened (ms since epoch), for the lifetime limit. */
  readonly openedAt = Date.now();
  /** The heartbeat tick of the last write (see heartbeat.ts). */
  lastWrite = 0;
  /** Where the heartbeat wheel filed this stream; -1 while not filed. */
  heartbeatSlot = -1;
  /** Its place in that slot. */
  heartbeatIndex = -1;

  constructor(
    readonly id: string,
    readonly principal: P,
    readonly patterns: readonly string[],
    /** Sorted scope keys; an event's scope index points here and into `positions`. */
    readonly scopes: readonly string[],
    /** The tag of `scopes` in ids (see wire/event-ids.ts). */
    readonly idTag: string,
    private readonly limits: BufferLimits,
    private readonly owner: ConnectionOwner<P>,
  ) {}

  /** Per scope, the position of the last event written; undefined without a history. */
  get positions(): Position[] | undefined {
    return this.marks && markedPositions(this.marks);
  }

  set positions(positions: Position[] | undefined) {
    this.marks = positions && positionMarks(positions);
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

  /** When this stream counts as stalled (congested for `maxStallMs` without a drain). */
  get stallDeadline(): number | undefined {
    const at = this.congestedAt;
    return at === undefined ? undefined : at + this.limits.maxStallMs;
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

  /** The SSE id of where this connection stands, or undefined without one. */
  eventId(): string | undefined {
    return this.marks && formatEventId(this.idTag, this.marks);
  }

  /** Gives the connection its stream; nothing is written before. */
  attach(sink: Sink): void {
    this.sink = sink;
  }

  /**
   * Ends the hold: frames that arrived live during the replay are written unless the replay
   * already covered them, as long as the stream takes them. Returns true once all are out and
   * the stream is live; false when it became congested first (await {@link writable}, then call
   * again: what arrives meanwhile is still held, in order).
   */
  goLive(): boolean {
    const held = this.held;
    if (held === undefined) return true;
    if (this.lost && !this.ended) this.writeResync();
    let next = 0;
    while (next < held.length && !this.congested && !this.ended) {
      const [frame, scope] = held[next++] as [Frame, number];
      this.sendNow(frame, scope);
    }
    if (next < held.length && !this.ended) {
      held.splice(0, next);
      return false;
    }
    this.held = undefined;
    return true;
  }

  /**
   * Delivers an event of scope `scope` (an index into `scopes`): held back while a replay runs,
   * written otherwise. Returns true when the event was written (or held).
   */
  send(frame: Frame, scope: number): boolean {
    if (this.held === undefined) return this.sendNow(frame, scope);
    if (this.ended) return false;
    if (this.held.length >= MAX_HELD) {
      this.lost = true;
      return false;
    }
    this.held.push([frame, scope]);
    return true;
  }

  /**
   * Writes an event now, honouring the buffer bound and skipping what this connection already
   * has (replay and live may overlap). Returns true when it was written.
   */
  sendNow(frame: Frame, scope: number): boolean {
    if (this.ended) return false;
    const position = frame.position;
    const marks = this.marks;
    if (position && marks && !isNewMark(marks, scope, position)) return false;
    this.lastEvent = frame.event;
    if (this.congested && this.limits.policy === 'coalesce') return this.coalesce(frame, scope);
    if (this.congested && this.overLimit()) {
      this.owner.onBackpressure(this, this.limits.policy, frame.event);
      if (this.limits.policy === 'disconnect') this.close('backpressure');
      // A dropped event with an id leaves a gap the client must hear about.
      else if (position) this.lost = true;
      return false;
    }
    if (this.lost && !this.resync()) return false;
    if (position && marks) setMark(marks, scope, position);
    const chunk =
      position && marks && marks.length > 2
        ? Buffer.concat([Buffer.from(`id: ${this.eventId() ?? ''}\n`), frame.body()])
        : frame.chunk;
    return this.write(chunk);
  }

  /**
   * Does not deliver an event (this connection caused it) but moves the client's id past it: an
   * SSE frame with only an `id:` updates the browser's Last-Event-ID without firing an event, so
   * a reconnect does not replay the tab's own change to it.
   */
  skip(frame: Frame, scope: number): void {
    const position = frame.position;
    const marks = this.marks;
    if (!position || !marks || this.held || this.ended || this.congested) return;
    if (!isNewMark(marks, scope, position)) return;
    setMark(marks, scope, position);
    this.write(Buffer.from(`id: ${this.eventId() ?? ''}\n\n`));
  }

  /**
   * Tells the client it may have missed events: it refreshes everything. `positions` is where it
   * stands afterwards. Returns false when the stream could not take it.
   */
  resync(positions?: Position[]): boolean {
    if (positions) this.positions = positions;
    if (this.held) {
      this.lost = true;
      return true;
    }
    return this.writeResync();
  }

  private writeResync(): boolean {
    this.lost = false;
    this.owner.onResync(this);
    return this.write(
      Buffer.from(formatEvent({ name: RESYNC_EVENT, data: '{}', id: this.eventId() })),
    );
  }

  /** Writes a heartbeat unless the stream is busy anyway (congested or catching up: it needs none). */
  heartbeat(chunk: Uint8Array): void {
    if (!this.ended && !this.congested && !this.held) this.write(chunk);
  }

  /**
   * The transport's buffer has emptied: what waited meanwhile goes out now in one write, then
   * the resync a drop owes, then what was coalesced; a replay waiting for it goes on.
   */
  drained(): void {
    if (this.congestedAt !== undefined && !this.ended) {
      this.congestedAt = undefined;
      unwatchStall(this);
      this.flushQueued();
      const waiting = this.coalesced;
      this.coalesced = undefined;
      if (this.lost && !this.held) this.resync();
      if (waiting) for (const [frame, scope] of waiting.values()) this.sendNow(frame, scope);
    }
    this.wake(!this.ended);
  }

  /** `disconnect`: the stream stayed congested past `maxStallMs` with no event to judge it by. */
  stalled(): void {
    if (this.ended || !this.congested) return;
    this.owner.onBackpressure(this, 'disconnect', this.lastEvent ?? NO_EVENT);
    this.close('backpressure');
  }

  /** Over the bytes it may hold, or congested for longer than it may stay without a drain. */
  private overLimit(): boolean {
    const { maxBufferedBytes, maxStallMs } = this.limits;
    return (
      (this.sink?.buffered() ?? 0) + this.queuedBytes > maxBufferedBytes ||
      Date.now() - (this.congestedAt ?? Number.POSITIVE_INFINITY) > maxStallMs
    );
  }

  private wake(open: boolean): void {
    const waiters = this.waiters;
    this.waiters = undefined;
    if (waiters) for (const resolve of waiters) resolve(open);
  }

  /**
   * While the client is slow, an event replaces the waiting one of the same name (the newer
   * invalidation covers the older); past the bound they all collapse into one resync.
   */
  private coalesce(frame: Frame, scope: number): boolean {
    if (this.lost) {
      // Already collapsed into a resync: this event is covered by it.
      this.owner.onBackpressure(this, 'coalesce', frame.event);
      return false;
    }
    this.coalesced ??= new Map();
    const map = this.coalesced;
    const name = frame.key;
    // Re-insert so that the map stays in order of the newest event of each name.
    if (map.delete(name)) this.owner.onBackpressure(this, 'coalesce', frame.event);
    map.set(name, [frame, scope]);
    if (map.size > this.limits.bufferSize) {
      this.owner.onBackpressure(this, 'coalesce', frame.event);
      map.clear();
      this.lost = true;
    }
    return true;
  }

  /** The peer went away (socket closed, request aborted). */
  peerClosed(): void {
    this.finish('client-closed');
  }

  /**
   * Ends the stream. `server-closed` and `expired` first send `retry` (when given) and let
   * buffered bytes go out; anything else drops them at once.
   */
  close(reason: DisconnectReason, retry?: Uint8Array): void {
    if (this.ended) return;
    // Detach first: ending the sink may report the peer as gone, which must not count twice.
    this.finish(reason);
    if (reason === 'server-closed' || reason === 'expired') {
      this.flushQueued();
      if (retry) this.sink?.write(retry);
      this.sink?.end();
    } else this.sink?.destroy();
  }

  /**
   * Queues a whole frame for this tick's flush (one write per connection per tick), or, while
   * congested, until the next drain. Returns false once the connection has ended.
   */
  private write(chunk: Uint8Array): boolean {
    if (this.sink === undefined || this.ended) return false;
    this.lastWrite = this.owner.clock.tick;
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

  /** Writes what this tick queued (called by the batch; a no-op when already flushed or congested). */
  flush(): void {
    if (this.ended || this.congested) return;
    try {
      this.flushQueued();
    } catch (err) {
      // Runs from setImmediate: an error thrown here would end the process.
      this.owner.onError(err);
    }
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
        if (this.limits.policy === 'disconnect') watchStall(this);
      }
    } catch {
      // A transport that throws on write is gone; treat it as the peer leaving.
      this.finish('error');
    }
  }

  private finish(reason: DisconnectReason): void {
    if (this.ended) return;
    this.ended = true;
    unwatchStall(this);
    this.wake(false);
    this.owner.onClosed(this, reason);
    if (reason !== 'server-closed' && reason !== 'expired') this.dropQueued();
  }

  private dropQueued(): void {
    this.queued = undefined;
    this.more = undefined;
    this.queuedBytes = 0;
  }
}

/** A heartbeat comment, shared by every connection. */
export const HEARTBEAT = Buffer.from(formatComment('ping'));
