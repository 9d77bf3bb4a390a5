/**
 * One EventSource kept open until closed: the browser's own reconnects (with `Last-Event-ID`), and
 * ours with backoff and `?lastEventId=` once the browser gives up. Used by a tab alone and by the
 * side that holds a shared stream (a SharedWorker or the leading tab).
 */
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { LAST_EVENT_ID_PARAM } from './constants.js';
import type { EventSourceConstructor } from './types.js';

/** How to open the stream. */
export interface SourceConfig {
  readonly url: string;
  readonly withCredentials: boolean;
  readonly backoff?: BackoffOptions | undefined;
  /** Where a stream taken over from another holder resumes; `''` for none. */
  readonly lastEventId?: string;
  /** The stream was open before (another holder had it): the first open is a reopen. */
  readonly resumed?: boolean;
}

/** What the source reports. */
export interface SourceHandlers {
  /** An event of a listened name, with the id the browser holds after it. */
  message(name: string, data: string, id: string): void;
  /** `open` when a stream opened, `reconnecting` when it dropped. */
  state(state: 'open' | 'reconnecting'): void;
  /** A stream came back without an id to resume from: events may have been missed. */
  lost(): void;
}

/** A running source. */
export interface Source {
  /** Receives events named `name` too (EventSource delivers only the names it listens to). */
  listen(name: string): void;
  /** The id of the last event received, `''` before any. */
  readonly lastEventId: string;
  /** Closes the stream for good. */
  close(): void;
}

/** Opens `config.url` with `Source` and keeps it open until `close()`. */
export function openSource(
  Source: EventSourceConstructor,
  config: SourceConfig,
  names: Iterable<string>,
  handlers: SourceHandlers,
): Source {
  const listened = new Set(names);
  let source: EventSource | undefined;
  let lastEventId = config.lastEventId ?? '';
  let opened = config.resumed === true;
  let closed = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function onMessage(event: Event): void {
    const { type, data, lastEventId: id } = event as MessageEvent<string>;
    if (id) lastEventId = id;
    handlers.message(type, data, lastEventId);
  }

  function onOpen(): void {
    attempt = 0;
    const reopened = opened;
    opened = true;
    handlers.state('open');
    // Without event ids the server cannot replay what was missed while away.
    if (reopened && lastEventId === '') handlers.lost();
  }

  function onError(): void {
    if (closed) return;
    handlers.state('reconnecting');
    // CONNECTING: the browser retries by itself. CLOSED: it gave up, so we take over.
    if (source?.readyState === 2) {
      dispose();
      timer = setTimeout(open, backoffDelay(attempt++, config.backoff));
    }
  }

  function dispose(): void {
    if (source === undefined) return;
    source.removeEventListener('open', onOpen);
    source.removeEventListener('error', onError);
    for (const name of listened) source.removeEventListener(name, onMessage);
    source.close();
    source = undefined;
  }

  function open(): void {
    timer = undefined;
    const url = new URL(config.url, globalThis.location?.href);
    // Our own reconnects cannot send Last-Event-ID as a header: the server reads this instead.
    if (lastEventId !== '') url.searchParams.set(LAST_EVENT_ID_PARAM, lastEventId);
    source = new Source(url.href, { withCredentials: config.withCredentials });
    source.addEventListener('open', onOpen);
    source.addEventListener('error', onError);
    for (const name of listened) source.addEventListener(name, onMessage);
  }

  open();
  return {
    listen(name) {
      if (listened.has(name)) return;
      listened.add(name);
      source?.addEventListener(name, onMessage);
    },
    get lastEventId() {
      return lastEventId;
    },
    close() {
      closed = true;
      clearTimeout(timer);
      dispose();
    },
  };
}
