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

/** One shared stream and the tabs it serves. */
export class SharedHub {
  private readonly tabs = new Map<string, Set<string>>();
  private source: Source | undefined;
  private state: 'open' | 'reconnecting' | undefined;
  private connectionId: string | undefined;
  /** The tab the next event came from (`eventrail.origin`), with that event's name and id. */
  private pending: { tab: string; event: string; id: string } | undefined;

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

  /** A tab joins: the stream opens with the first one; a later one learns where it stands. */
  join(tab: string, names: readonly string[], config: SourceConfig): void {
    this.tabs.set(tab, new Set(names));
    if (this.source === undefined) {
      const all = [CONNECTED_EVENT, RESYNC_EVENT, ORIGIN_EVENT, 'message', ...names];
      const start = { ...config, ...this.resume };
      this.source = openSource(this.EventSource, start, all, {
        message: (name, data, id) => this.onMessage(name, data, id),
        state: (state) => this.setState(state),
        lost: () => this.post({ t: 'resync', reason: 'reconnect', id: '' }),
      });
    } else {
      for (const name of names) this.source.listen(name);
      if (this.state !== undefined) this.post({ t: 'state', state: this.state }, tab);
      if (this.connectionId !== undefined) {
        this.post({ t: 'connected', id: this.connectionId, at: this.lastEventId }, tab);
      }
    }
    this.post({ t: 'tabs', count: this.tabs.size });
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
      return;
    }
    if (name === RESYNC_EVENT) {
      this.post({ t: 'resync', reason: 'resync', id });
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
    this.post({ t: 'event', name, data, id, skip });
  }
}
