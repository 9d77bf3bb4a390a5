import type {
  BackpressurePolicy,
  ClientInfo,
  DisconnectReason,
  OutgoingEvent,
  Principal,
} from '../types.js';
import type { Position } from '../wire/event-ids.js';
import { RESYNC_EVENT } from '../wire/protocol.js';
import { formatEvent } from '../wire/sse-format.js';
import { Backlog } from './backlog.js';
import { type BufferLimits, CoalescedFrames, overLimit } from './backpressure.js';
import type { Frame } from './frame.js';
import { type Beating, type HeartbeatClock, WheelSeat } from './heartbeat.js';
import { type Stallable, unwatchStall, watchStall } from './stall-watch.js';
import { StreamPositions } from './stream-positions.js';
import { StreamWriter } from './stream-writer.js';

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

/** What `onClientDropped` hears when a stalled stream is cut before any event was written to it. */
const NO_EVENT: OutgoingEvent = { name: RESYNC_EVENT, data: '{}' };

/**
 * One browser's stream on this instance: the events on top of its bytes ({@link StreamWriter}).
 * Holds no timer and no per-event closure: the server's heartbeat and the hubs' fan-out call into
 * it. With a history it knows where it stands per scope ({@link StreamPositions}), which both
 * dedupes (replay and live may overlap) and makes its ids.
 */
export class Connection<P extends Principal = Principal>
  extends StreamWriter
  implements ClientInfo<P>, Beating, Stallable
{
  /** The newest event handed to this stream, for the hook of a stream cut while stalled. */
  private lastEvent: OutgoingEvent | undefined;
  /** Live frames that arrived while the replay runs, written after it; undefined once live. */
  private backlog: Backlog | undefined = new Backlog();
  /** An event was dropped or could not be kept: the client must resync before anything else. */
  private lost = false;
  /** `coalesce`: what waits for the drain, merged by event name. */
  private coalesced: CoalescedFrames | undefined;
  /** Where the stream stands per scope. */
  readonly #positions: StreamPositions;
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
    idTag: string,
    private readonly limits: BufferLimits,
    private readonly owner: ConnectionOwner<P>,
  ) {
    super(owner.clock);
    this.#positions = new StreamPositions(idTag);
  }

  /** Per scope, the position of the last event written; undefined without a history. */
  get positions(): Position[] | undefined {
    return this.#positions.current;
  }

  /** Where the stream starts, per scope (undefined without a history); set before it opens. */
  startAt(positions: Position[] | undefined): void {
    this.#positions.moveTo(positions);
  }

  /** When this stream counts as stalled (congested for `maxStallMs` without a drain). */
  get stallDeadline(): number | undefined {
    const at = this.congestedSince;
    return at === undefined ? undefined : at + this.limits.maxStallMs;
  }

  /** The SSE id of where this connection stands, or undefined without one. */
  eventId(): string | undefined {
    return this.#positions.eventId();
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
    const open = () => !this.congested && !this.closed;
    if (!backlog.release((frame, scope) => this.sendNow(frame, scope), open) && !this.closed) {
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
    if (this.backlog.hold(frame, scope)) return true;
    this.lost = true;
    return false;
  }

  /**
   * Writes an event now, honouring the buffer bound and skipping what this connection already
   * has (replay and live may overlap). Returns true when it was written.
   */
  sendNow(frame: Frame, scope: number): boolean {
    if (this.closed || !this.#positions.isNew(frame, scope)) return false;
    this.lastEvent = frame.event;
    if (this.congested && this.limits.policy === 'coalesce') return this.coalesce(frame, scope);
    if (this.congested && overLimit(this.limits, this.waitingBytes, this.congestedSince)) {
      this.owner.onBackpressure(this, this.limits.policy, frame.event);
      if (this.limits.policy === 'disconnect') this.close('backpressure');
      // A dropped event with an id leaves a gap the client must hear about.
      else if (frame.position) this.lost = true;
      return false;
    }
    if (this.lost && !this.resync()) return false;
    return this.write(this.#positions.advance(frame, scope));
  }

  /**
   * Does not deliver an event (this connection caused it) but moves the client's id past it: an
   * SSE frame with only an `id:` updates the browser's Last-Event-ID without firing an event, so
   * a reconnect does not replay the tab's own change to it.
   */
  skip(frame: Frame, scope: number): void {
    if (this.backlog || this.closed || this.congested) return;
    const idOnly = this.#positions.pass(frame, scope);
    if (idOnly) this.write(idOnly);
  }

  /**
   * Tells the client it may have missed events: it refreshes everything. `positions` is where it
   * stands afterwards. Returns false when the stream could not take it.
   */
  resync(positions?: Position[]): boolean {
    if (positions) this.#positions.moveTo(positions);
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
    this.coalesced ??= new CoalescedFrames(this.limits.bufferSize);
    const coalesced = this.coalesced.put(frame, scope);
    if (coalesced !== 'kept') this.owner.onBackpressure(this, 'coalesce', frame.event);
    if (coalesced === 'overflow') this.lost = true;
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
    if (waiting) for (const [frame, scope] of waiting.frames()) this.sendNow(frame, scope);
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
