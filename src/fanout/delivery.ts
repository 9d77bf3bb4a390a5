import { EventrailError } from '../errors.js';
import type { EventTracing } from '../tracing.js';
import type { BrokerMessage, HistoryEntry, OutgoingEvent, Principal } from '../types.js';
import { HISTORY_PAGE } from '../types.js';
import { epochText, type Position, positionOf, streamId } from '../wire/event-ids.js';
import { belongsTo } from '../wire/naming.js';
import { type CatchUpContext, catchUp } from './catch-up.js';
import type { Connection } from './connection.js';
import type { Frame } from './frame.js';
import { claimedPosition, type EncodingContext, FrameEncoding } from './frame-encoding.js';
import type { HistoryReader } from './history-reads.js';
import type { Hub } from './hub.js';
import type { RouteTable } from './routes.js';

/** What delivery needs from the server. */
export interface DeliveryContext extends EncodingContext {
  readonly tracing: EventTracing | undefined;
  /** The broker's history behind the server's bound and sharing (`SharedHistoryReads`). */
  readonly history: HistoryReader | undefined;
  broadcast(
    event: OutgoingEvent,
    channel: string,
    recipients: number,
    publishedAt: number | undefined,
  ): void;
  /** Events written to a connection by a replay. */
  replayed(count: number): void;
}

/**
 * Fan-out, replay and recovery: how broker messages become frames on connections. Every path
 * goes through `encode` (once per event) and `Connection.send` (which dedupes by position), so
 * replay and live delivery can overlap without a duplicate.
 */
export class Delivery<P extends Principal> {
  private readonly encoding: FrameEncoding<P>;
  private readonly catchUps: CatchUpContext<P>;

  constructor(private readonly ctx: DeliveryContext) {
    this.encoding = new FrameEncoding(ctx);
    this.catchUps = {
      history: ctx.history,
      encoding: this.encoding,
      position: (key) => this.position(key),
      replayed: (count) => ctx.replayed(count),
    };
  }

  /** A live message from the broker: deferred while its hub recovers, else delivered. */
  deliver(hub: Hub<P>, message: BrokerMessage): void {
    if (!hub.deferWhileRecovering(message)) this.deliverNow(hub, message);
  }

  /**
   * Delivers a message to its hub's connections, whether the hub recovers or not. `replayed`: it
   * comes from a history read that vouched for it after the hub's last position.
   */
  private deliverNow(hub: Hub<P>, message: BrokerMessage, replayed = false): void {
    const { channel } = message;
    // Defence in depth: a broker must only hand a hub its own scope's channels.
    if (!belongsTo(hub.key, channel)) return;
    if (this.encoding.tooLarge(message)) {
      this.oversized(hub, message);
      return;
    }
    const frame = this.encoding.frameFor(hub, message);
    if (frame === null) return;
    const position = frame.position;
    if (position) {
      // Another history issued it (a failover, a restart): its id may even repeat one delivered
      // already. The hub recovers from where it stands, which replays this event or resyncs.
      if (!replayed && hub.isOtherHistory(position)) {
        this.recover(hub).catch((err: unknown) => this.ctx.report(err));
        return;
      }
      // A scope's events reach its hub in id order; one that is not newer than the last seen is a
      // duplicate (an old and a new subscriber overlap while the probe replaces one) or covered
      // by a resync. Dropping it here keeps order even for connections that have no positions.
      if (!hub.advance(position)) return;
    }
    const { tracing } = this.ctx;
    if (tracing === undefined) this.fanOut(hub, channel, frame);
    else this.tracedFanOut(tracing, hub, message, frame);
  }

  /** {@link fanOut} inside the tracer's delivery span. */
  private tracedFanOut(
    tracing: EventTracing,
    hub: Hub<P>,
    message: BrokerMessage,
    frame: Frame,
  ): void {
    const { channel } = message;
    const info = {
      channel,
      scope: hub.key.slice(0, hub.key.indexOf(':')),
      eventName: frame.event.name,
      id: message.id,
      carrier: frame.event.traceContext,
    };
    // A tracer that throws, or never calls back, must not cost the event its delivery.
    let done = false;
    try {
      tracing.deliver(info, () => {
        done = true;
        return this.fanOut(hub, channel, frame);
      });
    } catch (err) {
      this.ctx.report(err);
    }
    if (!done) this.fanOut(hub, channel, frame);
  }

  /**
   * A message over the size limit came from another program (eventrail's publishers refuse them):
   * writing it would cut every client by `maxBufferedBytes`. Its clients resync instead, so the
   * change is not lost.
   */
  private oversized(hub: Hub<P>, message: BrokerMessage): void {
    this.ctx.report(
      new EventrailError(
        'payload-too-large',
        `A broker message on ${message.channel} is ${message.payload.length} characters, over the limit (${this.ctx.maxMessageLength}); its clients resync instead.`,
      ),
    );
    const position = claimedPosition(message);
    if (position) hub.advance(position);
    this.resyncHub(hub).catch((err: unknown) => this.ctx.report(err));
  }

  private fanOut(hub: Hub<P>, channel: string, frame: Frame): number {
    const recipients = hub.deliver(channel.slice(hub.key.length + 1), frame);
    this.ctx.broadcast(frame.event, channel, recipients, frame.position?.ms);
    return recipients;
  }

  /**
   * The broker may have skipped messages (its subscriber reconnected): hold live messages, deliver
   * what the history has after the last one seen, or resync every client of the hub.
   */
  async recover(hub: Hub<P>): Promise<void> {
    const { history } = this.ctx;
    if (!hub.beginRecovery()) return;
    // Answers kept for replays may predate what the gap skipped: replays read afresh.
    history?.forget?.(hub.key);
    try {
      // A gap signalled while the history is read (a moved slot's new subscription went live
      // after the read) needs a read that starts after it.
      do {
        try {
          const from = hub.lastSeen;
          if (!history || !from || !(await this.readMissed(history, hub, from)))
            await this.resyncHub(hub);
        } catch (err) {
          this.ctx.report(err);
          await this.resyncHub(hub).catch((e: unknown) => this.ctx.report(e));
        }
      } while (hub.recoverAgain());
    } finally {
      for (const message of hub.endRecovery()) this.deliverNow(hub, message);
    }
  }

  /**
   * Delivers what the history has after `from` to every client of the hub, a page at a time.
   * False when the history cannot prove it complete (the hub then resyncs).
   */
  private async readMissed(history: HistoryReader, hub: Hub<P>, from: Position): Promise<boolean> {
    let after = streamId(from);
    let epoch = epochText(from);
    for (;;) {
      const page = await history.readSince(hub.key, after, HISTORY_PAGE, epoch);
      if (page === null) return false;
      // Vouched for by the history read: delivered even when of another epoch than the hub's.
      for (const entry of page) this.deliverNow(hub, entry, true);
      if (page.length < HISTORY_PAGE) return true;
      const last = page[page.length - 1] as HistoryEntry;
      after = last.id;
      epoch = last.epoch;
    }
  }

  /**
   * Tells every client of the hub to refresh. It never fails: when the scope's newest position
   * cannot be read (the broker is failing again), the clients are resynced all the same, keeping
   * their ids (a reconnect then resyncs again rather than missing anything).
   */
  private async resyncHub(hub: Hub<P>): Promise<void> {
    let position: Position | undefined;
    try {
      position = await this.position(hub.key);
    } catch (err) {
      this.ctx.report(err);
    }
    if (position) hub.resetTo(position);
    for (const [connection, scope] of hub.members()) {
      const positions = connection.positions;
      if (positions && position) positions[scope] = position;
      connection.resync(positions);
    }
  }

  /** The newest position of a scope, or undefined without a history (or when it fails). */
  async position(scopeKey: string): Promise<Position | undefined> {
    if (!this.ctx.history) return undefined;
    return positionOf(await this.ctx.history.position(scopeKey));
  }

  /** Brings a new connection up to date, then live (see catch-up.ts). */
  catchUp(
    connection: Connection<P>,
    hubs: readonly Hub<P>[],
    routes: RouteTable,
    resume: Position[] | undefined,
  ): Promise<void> {
    return catchUp(this.catchUps, connection, hubs, routes, resume);
  }
}
