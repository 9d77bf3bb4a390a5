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
  markedScopes,
  type Position,
  type PositionMarks,
  positionMarks,
  setMark,
} from '../wire/event-ids.js';
import { RESYNC_EVENT } from '../wire/protocol.js';
import { formatEvent, formatIdLine, formatIdOnly } from '../wire/sse-format.js';
import type { Frame } from './frame.js';
import { type Beating, type HeartbeatClock, WheelSeat } from './heartbeat.js';
import { type Stallable, unwatchStall, watchStall } from './stall-watch.js';
import { StreamWriter } from './stream-writer.js';

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

/** Live events a connection may keep in its backlog while its replay runs, before it gives up and resyncs. */
const MAX_BACKLOG = 10_000;

/** What `onClientDropped` hears when a stalled stream is cut before any event was written to it. */
const NO_EVENT: OutgoingEvent = { name: RESYNC_EVENT, data: '{}' };

/**
 * One browser's stream on this instance: the events on top of its bytes ({@link StreamWriter}).
 * Holds no timer and no per-event closure: the server's heartbeat and the hubs' fan-out call into
 * it. With a history it tracks, per scope, the position of the last event it wrote, which both
 * dedupes (replay and live may overlap) and makes its ids.
 */
export class Connection<P extends Principal = Principal>
  extends StreamWriter
  implements ClientInfo<P>, Beating, Stallable
{
  /** The newest event handed to this stream, for the hook of a stream cut while stalled. */
  private lastEvent: OutgoingEvent | undefined;
  /** Live frames that arrived while the replay runs, written after it; undefined once live. */
  private backlog: Array<[Frame, number]> | undefined = [];
  /** An event was dropped or could not be kept: the client must resync before anything else. */
  private lost = false;
  /** `coalesce`: the newest waiting frame of each event name, oldest name first. */
  private coalesced: Map<string, [Frame, number]> | undefined;
  /** Where the stream stands per scope (see {@link positions}). */
  private marks: PositionMarks | undefined;
  /** When the stream opened (ms since epoch), for the lifetime limit. */
  readonly openedAt = Date.now();
  /** Where the heartbeat wheel filed this stream (the wheel's). */
  readonly seat = new WheelSeat();

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
  ) {
    super(owner.clock);
  }

  /** Per scope, the position of the last event written; undefined without a history. */
  get positions(): Position[] | undefined {
    return this.marks && markedPositions(this.marks);
  }

  /** Where the stream starts, per scope (undefined without a history); set before it opens. */
  startAt(positions: Position[] | undefined): void {
    this.marks = positions && positionMarks(positions);
  }

  /** When this stream counts as stalled (congested for `maxStallMs` without a drain). */
  get stallDeadline(): number | undefined {
    const at = this.congestedSince;
    return at === undefined ? undefined : at + this.limits.maxStallMs;
  }

  /** The SSE id of where this connection stands, or undefined without one. */
  eventId(): string | undefined {
    return this.marks && formatEventId(this.idTag, this.marks);
  }

  /**
   * Ends the backlog: frames that arrived live during the replay are written unless the replay
   * already covered them, as long as the stream takes them. Returns true once all are out and
   * the stream is live; false when it became congested first (await {@link writable}, then call
   * again: what arrives meanwhile still joins the backlog, in order).
   */
  goLive(): boolean {
    const backlog = this.backlog;
    if (backlog === undefined) return true;
    if (this.lost && !this.closed) this.writeResync();
    let next = 0;
    while (next < backlog.length && !this.congested && !this.closed) {
      const [frame, scope] = backlog[next++] as [Frame, number];
      this.sendNow(frame, scope);
    }
    if (next < backlog.length && !this.closed) {
      backlog.splice(0, next);
      return false;
    }
    this.backlog = undefined;
    return true;
  }

  /**
   * Delivers an event of scope `scope` (an index into `scopes`): kept in the backlog while a
   * replay runs, written otherwise. Returns true when the event was written (or kept).
   */
  send(frame: Frame, scope: number): boolean {
    if (this.backlog === undefined) return this.sendNow(frame, scope);
    if (this.closed) return false;
    if (this.backlog.length >= MAX_BACKLOG) {
      this.lost = true;
      return false;
    }
    this.backlog.push([frame, scope]);
    return true;
  }

  /**
   * Writes an event now, honouring the buffer bound and skipping what this connection already
   * has (replay and live may overlap). Returns true when it was written.
   */
  sendNow(frame: Frame, scope: number): boolean {
    if (this.closed) return false;
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
      position && marks && markedScopes(marks) > 1
        ? Buffer.concat([Buffer.from(formatIdLine(formatEventId(this.idTag, marks))), frame.body()])
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
    if (!position || !marks || this.backlog || this.closed || this.congested) return;
    if (!isNewMark(marks, scope, position)) return;
    setMark(marks, scope, position);
    this.write(Buffer.from(formatIdOnly(formatEventId(this.idTag, marks))));
  }

  /**
   * Tells the client it may have missed events: it refreshes everything. `positions` is where it
   * stands afterwards. Returns false when the stream could not take it.
   */
  resync(positions?: Position[]): boolean {
    if (positions) this.startAt(positions);
    if (this.backlog) {
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
    if (!this.closed && !this.congested && !this.backlog) this.write(chunk);
  }

  /** `disconnect`: the stream stayed congested past `maxStallMs` with no event to judge it by. */
  stalled(): void {
    if (this.closed || !this.congested) return;
    this.owner.onBackpressure(this, 'disconnect', this.lastEvent ?? NO_EVENT);
    this.close('backpressure');
  }

  /** Over the bytes it may hold, or congested for longer than it may stay without a drain. */
  private overLimit(): boolean {
    const { maxBufferedBytes, maxStallMs } = this.limits;
    return (
      this.waitingBytes > maxBufferedBytes ||
      Date.now() - (this.congestedSince ?? Number.POSITIVE_INFINITY) > maxStallMs
    );
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
    if (this.closed) return;
    // Detach first: ending the sink may report the peer as gone, which must not count twice.
    this.finish(reason);
    if (reason === 'server-closed' || reason === 'expired') this.endSink(retry);
    else this.destroySink();
  }

  protected congestionBegan(): void {
    if (this.limits.policy === 'disconnect') watchStall(this);
  }

  protected congestionEnded(): void {
    unwatchStall(this);
  }

  /** After a drain: the resync a drop owes, then what was coalesced. */
  protected drainedWith(): void {
    const waiting = this.coalesced;
    this.coalesced = undefined;
    if (this.lost && !this.backlog) this.resync();
    if (waiting) for (const [frame, scope] of waiting.values()) this.sendNow(frame, scope);
  }

  protected writeFailed(): void {
    this.finish('error');
  }

  protected flushFailed(error: unknown): void {
    this.owner.onError(error);
  }

  private finish(reason: DisconnectReason): void {
    if (!this.end()) return;
    unwatchStall(this);
    this.owner.onClosed(this, reason);
    if (reason !== 'server-closed' && reason !== 'expired') this.dropQueued();
  }
}
