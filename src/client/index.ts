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
 *   import { connect } from '/assets/eventrail/client.min.js'; // dist/browser/, or a bundler
 *   connect({ url: '/events', share: true }); // one stream for all the tabs
 * </script>
 * ```
 *
 * @packageDocumentation
 */
import { CONNECTED_EVENT, ORIGIN_HEADER, POSITION_META, RESYNC_EVENT } from './constants.js';
import { openDirect } from './direct.js';
import { addHeaderToHtmxRequests, RefreshRegistry, type RefreshRoot } from './dom.js';
import { openShared } from './share.js';
import type { SourceConfig } from './source.js';
import type { Stream, StreamHandlers } from './stream.js';
import type {
  ConnectionState,
  ConnectOptions,
  EventrailConnection,
  EventrailMessage,
  Sharing,
} from './types.js';
import { defaultWorker } from './worker-url.js';

export { type BackoffOptions, backoffDelay } from './backoff.js';
export {
  CONNECTED_EVENT,
  LAST_EVENT_ID_PARAM,
  ORIGIN_EVENT,
  ORIGIN_HEADER,
  POSITION_META,
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
  Sharing,
} from './types.js';

/** Runs a user callback; one that throws is reported and never stops a refresh. */
function safely(callback: () => void): void {
  try {
    callback();
  } catch (err) {
    if (typeof reportError === 'function') reportError(err);
  }
}

/** The page's render position: the content of its `<meta name="eventrail-position">`, if any. */
function renderPosition(): string {
  const page = globalThis.document as Partial<Document> | undefined;
  if (typeof page?.querySelector !== 'function') return '';
  return page.querySelector(`meta[name="${POSITION_META}"]`)?.getAttribute('content') ?? '';
}

/**
 * Opens the event stream and keeps it open until `close()`: declared elements refresh on their
 * events, every declared element refreshes on a resync, this tab's htmx requests carry its
 * connection id, and the client reconnects with exponential backoff and jitter whenever the
 * browser gives up (after a non-200 answer, for example).
 *
 * A stream that comes back after a drop refreshes every declared element unless the server sends
 * event ids (it then replays what was missed, or sends {@link RESYNC_EVENT}).
 *
 * With `share: true` the tabs of this origin that connect to the same URL share one stream (see
 * {@link ConnectOptions.share}); each tab still refreshes, resyncs and skips its own changes as
 * if it had its own.
 * @public
 */
export function connect(options: ConnectOptions = {}): EventrailConnection {
  const Source = options.EventSource ?? globalThis.EventSource;
  if (typeof Source !== 'function') throw new Error('eventrail/client needs EventSource.');
  const root = options.root ?? (globalThis.document as RefreshRoot | undefined);
  if (root === undefined) throw new Error('eventrail/client needs a root (document by default).');
  const config: SourceConfig = {
    url: new URL(String(options.url ?? '/events'), globalThis.location?.href).href,
    withCredentials: options.withCredentials === true,
    backoff: options.backoff,
  };
  const since = options.since === false ? '' : (options.since ?? renderPosition());
  const registry = new RefreshRegistry(root);
  const listeners = new Map<string, Set<(message: EventrailMessage) => void>>();
  const names = new Set<string>(['message', ...(options.events ?? [])]);
  let state: ConnectionState = 'connecting';
  let connectionId: string | undefined;
  let sharing: Sharing = 'none';
  let tabs = 1;

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

  const handlers: StreamHandlers = {
    event(message) {
      // A shared stream carries the names every tab listens to: this tab takes its own.
      if (state === 'closed' || !names.has(message.name)) return;
      safely(() => options.onEvent?.(message));
      for (const listener of listeners.get(message.name) ?? []) safely(() => listener(message));
      registry.refresh(
        { reason: 'event', eventName: message.name, data: message.data },
        message.name,
      );
    },
    origin(origin) {
      if (state === 'closed' || origin === connectionId) return;
      connectionId = origin;
      if (origin !== undefined) safely(() => options.onConnected?.(origin));
    },
    resync(reason) {
      if (state !== 'closed') resync(reason);
    },
    state(next) {
      if (state !== 'closed') setState(next);
    },
    tabs(count) {
      if (state === 'closed' || count === tabs) return;
      tabs = count;
      safely(() => options.onTabsChange?.(count));
    },
  };

  let stream: Stream | undefined;
  function listen(name: string): void {
    if (names.has(name) || name === CONNECTED_EVENT || name === RESYNC_EVENT) return;
    names.add(name);
    stream?.listen(name);
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
  if (options.share === true) {
    const worker = options.worker;
    stream = openShared({
      Source,
      config,
      since,
      names: () => [...names],
      worker:
        worker === false
          ? undefined
          : worker === undefined
            ? defaultWorker()
            : { url: worker, type: 'classic' },
      handlers,
      sharing: (how) => {
        sharing = how;
      },
    });
  } else stream = openDirect(Source, { ...config, lastEventId: since }, [...names], handlers);

  return {
    get state() {
      return state;
    },
    get connectionId() {
      return connectionId;
    },
    get sharing() {
      return sharing;
    },
    get tabs() {
      return tabs;
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
      stream?.close();
      stopWatching();
      stopTracking();
      stopHeaders();
      connectionId = undefined;
      setState('closed');
    },
  };
}
