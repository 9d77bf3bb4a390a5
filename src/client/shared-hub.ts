/**
 * The side that holds a shared stream (a SharedWorker, or the tab elected leader): one EventSource
 * for every tab of one events URL, and each event handed to every tab but the one that caused it.
 */
import { CONNECTED_EVENT, ORIGIN_EVENT, RESYNC_EVENT } from './constants.js';
import { openSource, type Source, type SourceConfig } from './source.js';
import type { EventSourceConstructor } from './types.js';
import { type HubMessage, parseConnectionId, parseMarker } from './wire.js';

/** Sends a message to one tab, or to every tab when `tab` is undefined. */
export type HubPost = (message: HubMessage, tab?: string) => void;

/** Where a stream taken over from another holder resumes. */
export interface Resume {
  readonly lastEventId: string;
  /** The group had a stream before: a first open without an id means events were missed. */
  readonly resumed: boolean;
}

/**
 * How many of its latest messages (events, resyncs, stream starts) a shared stream keeps, for a
 * tab that joins with a render position the stream has already gone past.
 */
export const CATCH_UP_RECORD = 128;

/** A message the stream passed on, or only an id it reached (`message` undefined: a stream start). */
interface Recorded {
  readonly id: string;
  readonly message?: HubMessage;
}

/**
 * One shared stream and the tabs it serves.
 *
 * A tab rendered at a position (its `since`) may join a stream that is already past it: the events
 * published in between went to the tabs of that moment. The hub keeps its latest
 * {@link CATCH_UP_RECORD} messages and hands the joining tab those after its position; when the
 * position is not among them (older than the record, or of other scopes) the tab resyncs once. A
 * tab whose position the stream has reached at that moment (nothing published since the stream's
 * last event) needs nothing.
 */
export class SharedHub {
  private readonly tabs = new Map<string, Set<string>>();
  private source: Source | undefined;
  private state: 'open' | 'reconnecting' | undefined;
  private connectionId: string | undefined;
  /** The tab the next event came from (`eventrail.origin`), with that event's name and id. */
  private pending: { tab: string; event: string; id: string } | undefined;
  /** The latest messages, oldest first (see {@link CATCH_UP_RECORD}). */
  private readonly record: Recorded[] = [];
  /** Tabs that joined before the first stream started, with their render positions. */
  private early: Map<string, string> | undefined = new Map();

  constructor(
    private readonly EventSource: EventSourceConstructor,
    private readonly post: HubPost,
    private readonly resume: Resume = { lastEventId: '', resumed: false },
  ) {}

  /** The id of the last event the stream received. */
  get lastEventId(): string {
    return this.source?.lastEventId ?? this.resume.lastEventId;
  }

  /** How many tabs the stream serves. */
  get size(): number {
    return this.tabs.size;
  }

  /**
   * A tab joins: the stream opens with the first one (from its render position `since`, unless it
   * resumes another holder's stream); a later one learns where it stands, and is handed what it
   * missed since its render position.
   */
  join(tab: string, names: readonly string[], config: SourceConfig, since = ''): void {
    this.tabs.set(tab, new Set(names));
    if (this.source === undefined) {
      const all = [CONNECTED_EVENT, RESYNC_EVENT, ORIGIN_EVENT, 'message', ...names];
      const { lastEventId, resumed } = this.resume;
      const start = {
        ...config,
        resumed,
        lastEventId: resumed ? lastEventId : lastEventId || since,
      };
      if (start.lastEventId !== since) this.early?.set(tab, since);
      this.source = openSource(this.EventSource, start, all, {
        message: (name, data, id) => this.onMessage(name, data, id),
        state: (state) => this.setState(state),
        lost: () => this.pass({ t: 'resync', reason: 'reconnect', id: '' }),
      });
    } else {
      this.catchUp(tab, since);
      for (const name of names) this.source.listen(name);
      if (this.state !== undefined) this.post({ t: 'state', state: this.state }, tab);
      if (this.connectionId !== undefined) {
        this.post({ t: 'connected', id: this.connectionId, at: this.lastEventId }, tab);
      }
    }
    this.post({ t: 'tabs', count: this.tabs.size, joined: tab });
  }

  /** Hands tab `tab`, rendered at `since`, what the stream passed on after that. */
  private catchUp(tab: string, since: string): void {
    if (since === '') return;
    // The first stream has not started: the tab is told once it does.
    if (this.early !== undefined) {
      this.early.set(tab, since);
      return;
    }
    let at = this.record.length - 1;
    while (at >= 0 && (this.record[at] as Recorded).id !== since) at--;
    if (at < 0) {
      this.post({ t: 'resync', reason: 'resync', id: this.lastEventId }, tab);
      return;
    }
    for (const { message } of this.record.slice(at + 1)) if (message) this.post(message, tab);
  }

  /** Posts `message` to every tab and keeps it for tabs that join later. */
  private pass(message: HubMessage & { readonly id: string }): void {
    this.remember({ id: message.id, message });
    this.post(message);
  }

  private remember(entry: Recorded): void {
    this.record.push(entry);
    if (this.record.length > CATCH_UP_RECORD) this.record.shift();
  }

  /** The first stream started at `id`: tabs that joined before, rendered elsewhere, resync once. */
  private started(id: string): void {
    const early = this.early;
    this.early = undefined;
    for (const [tab, since] of early ?? []) {
      if (since !== '' && since !== id && this.tabs.has(tab))
        this.post({ t: 'resync', reason: 'resync', id }, tab);
    }
  }

  /** A tab receives events named `names` too. */
  listen(tab: string, names: readonly string[]): void {
    const mine = this.tabs.get(tab);
    for (const name of names) {
      mine?.add(name);
      this.source?.listen(name);
    }
  }

  /** A tab left (closed, navigated, crashed). */
  leave(tab: string): void {
    if (!this.tabs.delete(tab)) return;
    this.post({ t: 'tabs', count: this.tabs.size });
  }

  close(): void {
    this.source?.close();
    this.source = undefined;
  }

  private setState(state: 'open' | 'reconnecting'): void {
    this.state = state;
    if (state === 'reconnecting' && this.connectionId !== undefined) {
      this.connectionId = undefined;
      this.post({ t: 'connected', id: undefined });
    }
    this.post({ t: 'state', state });
  }

  private onMessage(name: string, data: string, id: string): void {
    if (name === CONNECTED_EVENT) {
      this.connectionId = parseConnectionId(data);
      // Where the stream starts: a tab that takes over resumes from here if no event came since.
      this.post({ t: 'connected', id: this.connectionId, at: id });
      this.remember({ id });
      this.started(id);
      return;
    }
    if (name === RESYNC_EVENT) {
      this.pass({ t: 'resync', reason: 'resync', id });
      return;
    }
    if (name === ORIGIN_EVENT) {
      const marker = parseMarker(data);
      this.pending = marker && { ...marker, id };
      return;
    }
    // The marker and its event share one id and arrive back to back.
    const from = this.pending;
    this.pending = undefined;
    const skip = from?.event === name && from.id === id ? from.tab : undefined;
    this.pass({ t: 'event', name, data, id, skip });
  }
}
