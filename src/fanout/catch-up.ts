import type { HistoryEntry, Principal } from '../types.js';
import { HISTORY_PAGE } from '../types.js';
import { allPositions, epochText, type Position, streamId } from '../wire/event-ids.js';
import { belongsTo } from '../wire/naming.js';
import type { Connection } from './connection.js';
import type { FrameEncoding } from './frame-encoding.js';
import type { HistoryReader } from './history-reads.js';
import type { Hub } from './hub.js';
import type { RouteTable } from './routes.js';

/** What a catch-up needs from delivery. */
export interface CatchUpContext<P extends Principal> {
  /** The broker's history behind the server's bound and sharing (`SharedHistoryReads`). */
  readonly history: HistoryReader | undefined;
  readonly encoding: FrameEncoding<P>;
  /** The newest position of a scope, or undefined without a history. */
  position(scopeKey: string): Promise<Position | undefined>;
  /** Events written to a connection by a replay. */
  replayed(count: number): void;
}

/**
 * Brings a new connection (its live events in its backlog, already in its hubs) up to date:
 * replays what it missed since `resume` (its Last-Event-ID), or resyncs it when that cannot be
 * done exactly; then lets the backlog through. The replay is a stream: the history is read a page
 * at a time and each page written as the client drains it, so memory stays bounded whatever the
 * history's size and a client that reads keeps its stream however far behind it starts; nothing
 * more is read or decoded once the connection has gone.
 */
export async function catchUp<P extends Principal>(
  ctx: CatchUpContext<P>,
  connection: Connection<P>,
  hubs: readonly Hub<P>[],
  routes: RouteTable,
  resume: Position[] | undefined,
): Promise<void> {
  const { history } = ctx;
  if (history && resume) {
    for (const [scope, hub] of hubs.entries()) {
      const topics = routes.get(hub.key) ?? null;
      const from = resume[scope] as Position;
      const exact = await replay(ctx, history, connection, hub, scope, topics, from);
      if (connection.closed) return;
      if (!exact) {
        // Not replayable exactly (gone, or holding a message too large to write): resync.
        const newest = await Promise.all(hubs.map((h) => ctx.position(h.key)));
        connection.resync(allPositions(newest));
        break;
      }
    }
  }
  while (!connection.goLive()) if (!(await connection.writable())) return;
}

/**
 * Replays one scope's history after `from` to `connection`, pausing while it is congested.
 * False when the history cannot prove the replay complete, or holds a message too large to
 * write; true otherwise (also when the connection went away).
 */
async function replay<P extends Principal>(
  ctx: CatchUpContext<P>,
  history: HistoryReader,
  connection: Connection<P>,
  hub: Hub<P>,
  scope: number,
  topics: ReadonlySet<string> | null,
  from: Position,
): Promise<boolean> {
  const { encoding } = ctx;
  let after = streamId(from);
  let epoch = epochText(from);
  for (;;) {
    // The connection is in the hub: a recent page read for it may serve (see KeptAnswers).
    const page = await history.readSince(hub.key, after, HISTORY_PAGE, epoch, hub);
    if (page === null) return connection.closed;
    for (const entry of page) {
      if (connection.closed) return true;
      if (encoding.tooLarge(entry)) return false;
      const { channel } = entry;
      // The same check as live delivery: an entry of another scope is never replayed.
      if (!belongsTo(hub.key, channel)) continue;
      if (topics !== null && !topics.has(channel.slice(hub.key.length + 1))) continue;
      const frame = encoding.replayFrame(hub, entry);
      if (frame && connection.sendNow(frame, scope)) ctx.replayed(1);
      // Write no further than the client reads: the next frame waits for the drain.
      if (connection.congested && !(await connection.writable())) return true;
    }
    if (page.length < HISTORY_PAGE || connection.closed) return true;
    const last = page[page.length - 1] as HistoryEntry;
    after = last.id;
    epoch = last.epoch;
  }
}
