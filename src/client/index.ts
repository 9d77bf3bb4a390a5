/**
 * `eventrail/client`: the browser side of eventrail, a small dependency-free ES module over the
 * browser's `EventSource`.
 *
 * Markup declares what refreshes on which event; htmx (or any listener) performs the refresh:
 *
 * ```html
 * <section id="students" hx-get="/students/fragment" hx-trigger="eventrail:refresh"
 *          hx-swap="outerHTML" data-eventrail-refresh="app.students.changed">...</section>
 * <script type="module">
 *   import { connect } from '/assets/eventrail-client.js';
 *   connect({ url: '/events' });
 * </script>
 * ```
 *
 * @packageDocumentation
 */
import { backoffDelay } from './backoff.js';
import { CONNECTED_EVENT, LAST_EVENT_ID_PARAM, ORIGIN_HEADER, RESYNC_EVENT } from './constants.js';
import { addHeaderToHtmxRequests, RefreshRegistry, type RefreshRoot } from './dom.js';
import type {
  ConnectionState,
  ConnectOptions,
  EventrailConnection,
  EventrailMessage,
} from './types.js';

export { type BackoffOptions, backoffDelay } from './backoff.js';
export {
  CONNECTED_EVENT,
  LAST_EVENT_ID_PARAM,
  ORIGIN_HEADER,
  REFRESH_ATTRIBUTE,
  REFRESH_EVENT,
  RESYNC_EVENT,
} from './constants.js';
export type { RefreshDetail, RefreshReason, RefreshRoot, RefreshTarget } from './dom.js';
export type {
  ConnectionState,
  ConnectOptions,
  EventrailConnection,
  EventrailMessage,
  EventSourceConstructor,
} from './types.js';

/** Runs a user callback; one that throws is reported and never stops a refresh. */
function safely(callback: () => void): void {
  try {
    callback();
  } catch (err) {
    if (typeof reportError === 'function') reportError(err);
  }
}

function parseConnectionId(data: string): string | undefined {
  try {
    const value: unknown = JSON.parse(data);
    if (value !== null && typeof value === 'object' && 'connectionId' in value) {
      const id = value.connectionId;
      if (typeof id === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(id)) return id;
    }
  } catch {
    // not ours: ignore
  }
  return undefined;
}

/**
 * Opens the event stream and keeps it open until `close()`: declared elements refresh on their
 * events, every declared element refreshes on a resync, this tab's htmx requests carry its
 * connection id, and the client reconnects with exponential backoff and jitter whenever the
 * browser gives up (after a non-200 answer, for example).
 *
 * A stream that comes back after a drop refreshes every declared element unless the server sends
 * event ids (it then replays what was missed, or sends {@link RESYNC_EVENT}).
 * @public
 */
export function connect(options: ConnectOptions = {}): EventrailConnection {
  const Source = options.EventSource ?? globalThis.EventSource;
  if (typeof Source !== 'function') throw new Error('eventrail/client needs EventSource.');
  const root = options.root ?? (globalThis.document as RefreshRoot | undefined);
  if (root === undefined) throw new Error('eventrail/client needs a root (document by default).');
  const baseUrl = String(options.url ?? '/events');
  const registry = new RefreshRegistry(root);
  const listeners = new Map<string, Set<(message: EventrailMessage) => void>>();
  const names = new Set<string>([
    'message',
    CONNECTED_EVENT,
    RESYNC_EVENT,
    ...(options.events ?? []),
  ]);
  let source: EventSource | undefined;
  let state: ConnectionState = 'connecting';
  let connectionId: string | undefined;
  let lastEventId = '';
  let opened = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function setState(next: ConnectionState): void {
    if (state === next) return;
    state = next;
    safely(() => options.onStateChange?.(next));
  }

  function resync(reason: 'resync' | 'reconnect'): void {
    let refresh = true;
    safely(() => {
      refresh = options.onResync?.(reason) !== false;
    });
    if (refresh) registry.refresh({ reason });
  }

  function onMessage(event: Event): void {
    const { type: name, data, lastEventId: id } = event as MessageEvent<string>;
    if (id) lastEventId = id;
    if (name === CONNECTED_EVENT) {
      connectionId = parseConnectionId(data);
      const id = connectionId;
      if (id !== undefined) safely(() => options.onConnected?.(id));
      return;
    }
    if (name === RESYNC_EVENT) {
      resync('resync');
      return;
    }
    const message: EventrailMessage = { name, data, lastEventId: id };
    safely(() => options.onEvent?.(message));
    for (const listener of listeners.get(name) ?? []) safely(() => listener(message));
    registry.refresh({ reason: 'event', eventName: name, data }, name);
  }

  function listen(name: string): void {
    if (names.has(name)) return;
    names.add(name);
    source?.addEventListener(name, onMessage);
  }

  function onOpen(): void {
    attempt = 0;
    const reopened = opened;
    opened = true;
    setState('open');
    // Without event ids the server cannot replay what this tab missed while it was away.
    if (reopened && lastEventId === '') resync('reconnect');
  }

  function onError(): void {
    connectionId = undefined;
    if (state === 'closed') return;
    setState('reconnecting');
    // CONNECTING: the browser retries by itself. CLOSED: it gave up, so we take over.
    if (source?.readyState === 2) {
      dispose();
      timer = setTimeout(open, backoffDelay(attempt++, options.backoff));
    }
  }

  function dispose(): void {
    if (source === undefined) return;
    source.removeEventListener('open', onOpen);
    source.removeEventListener('error', onError);
    for (const name of names) source.removeEventListener(name, onMessage);
    source.close();
    source = undefined;
  }

  function open(): void {
    timer = undefined;
    const url = new URL(baseUrl, globalThis.location?.href);
    // Our own reconnects cannot send Last-Event-ID as a header: the server reads this instead.
    if (lastEventId !== '') url.searchParams.set(LAST_EVENT_ID_PARAM, lastEventId);
    source = new Source(url.href, { withCredentials: options.withCredentials === true });
    source.addEventListener('open', onOpen);
    source.addEventListener('error', onError);
    for (const name of names) source.addEventListener(name, onMessage);
  }

  const scan = (): void => {
    for (const name of registry.declaredNames()) listen(name);
  };
  scan();
  const stopWatching = registry.watch(scan);
  const stopTracking = registry.trackHtmxRequests();
  const stopHeaders =
    options.sendOrigin === false
      ? () => {}
      : addHeaderToHtmxRequests(root, ORIGIN_HEADER, () => connectionId);
  open();

  return {
    get state() {
      return state;
    },
    get connectionId() {
      return connectionId;
    },
    on(name, listener) {
      listen(name);
      const set = listeners.get(name) ?? new Set();
      listeners.set(name, set);
      set.add(listener);
      return () => void set.delete(listener);
    },
    refreshAll: () => registry.refresh({ reason: 'resync' }),
    originHeaders() {
      const headers: Record<string, string> = {};
      if (connectionId !== undefined) headers[ORIGIN_HEADER] = connectionId;
      return headers;
    },
    close() {
      if (state === 'closed') return;
      clearTimeout(timer);
      dispose();
      stopWatching();
      stopTracking();
      stopHeaders();
      connectionId = undefined;
      setState('closed');
    },
  };
}
