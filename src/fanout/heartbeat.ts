import { formatComment } from '../wire/sse-format.js';

/**
 * Heartbeats as a timing wheel. The period is cut into slots of about 100 ms; every stream sits in
 * the slot where its silence would reach the period. Each tick visits one slot: a stream that has
 * been silent for the whole period gets a comment, one that wrote meanwhile moves to the slot where
 * its new silence would end. So a stream is never silent for longer than the period (plus a tick),
 * a stream that receives events gets no heartbeat at all, and each tick writes to a small share of
 * the idle streams: 10k idle streams cost about 33 writes every 100 ms, never one burst of 10k that
 * every event arriving meanwhile would wait behind.
 */

/**
 * Where the wheel filed a stream: the wheel's own bookkeeping, kept with the stream so that moving
 * it costs no lookup. Only the wheel changes it.
 */
export class WheelSeat {
  /** The slot the stream is filed in; -1 while not filed. */
  slot = -1;
  /** Its place in that slot. */
  index = -1;
}

/** A heartbeat comment, shared by every connection. */
export const HEARTBEAT = Buffer.from(formatComment('ping'));

/** What the wheel keeps alive: a connection. */
export interface Beating {
  /** The {@link HeartbeatWheel.tick} of the stream's last write; the stream keeps it current. */
  readonly lastWrite: number;
  /** Where the wheel filed it. */
  readonly seat: WheelSeat;
  /** Writes a heartbeat (the stream may decline: it is busy, or catching up). */
  heartbeat(chunk: Uint8Array): void;
}

/** The slot width the period is cut into. */
const SLOT_MS = 100;
/** At most this many slots (a period of 60 s and more has wider slots). */
const MAX_SLOTS = 600;

/** A timer that does not keep the process alive. */
function everyInterval(turn: () => void, everyMs: number): () => void {
  const timer = setInterval(turn, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Ticks of the wheel; streams record the current one when they write. */
export interface HeartbeatClock {
  readonly tick: number;
}

export class HeartbeatWheel<C extends Beating> implements HeartbeatClock {
  tick = 0;
  /**
   * Plain arrays with swap-removal, not Sets: a stream that wrote moves between slots on every
   * turn, and a Set that loses and gains members keeps reallocating its table (under load, a
   * steady stream of tables that live long enough to be promoted); an array reuses its storage.
   */
  private readonly slots: C[][];
  /** Stops the ticks. */
  private readonly stopTicks: () => void;

  constructor(
    periodMs: number,
    private readonly chunk: Uint8Array,
    /** Calls `turn` every `everyMs` until the returned stop (tests drive the ticks by hand). */
    schedule: (turn: () => void, everyMs: number) => () => void = everyInterval,
  ) {
    const count = Math.max(1, Math.min(MAX_SLOTS, Math.round(periodMs / SLOT_MS)));
    this.slots = Array.from({ length: count }, (): C[] => []);
    this.stopTicks = schedule(() => this.turn(), periodMs / count);
  }

  /** Starts keeping `stream` alive: filed where the silence since its last write reaches the period. */
  add(stream: C): void {
    this.file(stream, stream.lastWrite);
  }

  /** Stops keeping `stream` alive. Safe to call twice. */
  remove(stream: C): void {
    if (stream.seat.slot < 0) return;
    this.unfile(this.slots[stream.seat.slot] as C[], stream);
  }

  stop(): void {
    this.stopTicks();
  }

  private file(stream: C, tick: number): void {
    const index = tick % this.slots.length;
    const slot = this.slots[index] as C[];
    stream.seat.slot = index;
    stream.seat.index = slot.length;
    slot.push(stream);
  }

  /** Takes `stream` out of `slot`, where it is filed: the slot's last stream takes its place. */
  private unfile(slot: C[], stream: C): void {
    const last = slot.pop() as C;
    const { seat } = stream;
    if (last !== stream) {
      slot[seat.index] = last;
      last.seat.index = seat.index;
    }
    seat.slot = -1;
    seat.index = -1;
  }

  private turn(): void {
    const tick = ++this.tick;
    const period = this.slots.length;
    const slot = this.slots[tick % period] as C[];
    // From the end: a stream taken out (moved, or closed by its heartbeat) is replaced by the
    // slot's last one, which has been visited already.
    for (let i = slot.length - 1; i >= 0; i--) {
      const stream = slot[i];
      if (stream === undefined) continue;
      // Silent for the whole period: ping (its write sets lastWrite, it stays in this slot).
      if (tick - stream.lastWrite >= period) stream.heartbeat(this.chunk);
      else if (stream.lastWrite !== tick) {
        // It wrote since: its silence reaches the period in the slot of that write (another
        // slot: one written in this very tick stays here).
        this.unfile(slot, stream);
        this.file(stream, stream.lastWrite);
      }
    }
  }
}
