/** The public types of `eventrail/client`. */
import type { BackoffOptions } from './backoff.js';
import type { ORIGIN_HEADER, POSITION_META, RESYNC_EVENT } from './constants.js';
import type { RefreshRoot } from './dom.js';

/**
 * Where the connection stands: `connecting` before the first stream opened, `open` while a stream
 * is live, `reconnecting` between streams, `closed` after `close()`.
 * @public
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** An event as the client hands it to your callbacks. @public */
export interface EventrailMessage {
  /** The SSE event name, e.g. `app.students.changed` (`message` for unnamed events). */
  readonly name: string;
  /** The `data` text, usually JSON. */
  readonly data: string;
  /** The SSE `id` of the event, `''` when the server sent none. */
  readonly lastEventId: string;
}

/**
 * How a stream is shared between the tabs: `worker` (a SharedWorker holds it), `locks` (the tabs
 * elect one with Web Locks and relay over BroadcastChannel), `none` (this tab holds its own).
 * @public
 */
export type Sharing = 'worker' | 'locks' | 'none';

/** A constructor compatible with the browser's `EventSource` (or a polyfill). @public */
export type EventSourceConstructor = new (url: string, init?: EventSourceInit) => EventSource;

/** Options of {@link connect}. @public */
export interface ConnectOptions {
  /** The events endpoint. @defaultValue `'/events'` */
  readonly url?: string | URL;
  /** Sends cookies on cross-origin streams too. @defaultValue `false` */
  readonly withCredentials?: boolean;
  /** Where declared elements live; the htmx request hook listens here too. @defaultValue `document` */
  readonly root?: RefreshRoot;
  /** Adds this tab's connection id to its htmx requests ({@link ORIGIN_HEADER}). @defaultValue `true` */
  readonly sendOrigin?: boolean;
  /** Delays of the reconnects the client makes itself (after the browser gave up). */
  readonly backoff?: BackoffOptions;
  /** Event names to receive in `onEvent` even though no element declares them. */
  readonly events?: readonly string[];
  /**
   * Shares one stream between every tab of this origin that connects to the same `url` (and
   * `withCredentials`): a SharedWorker holds it where there is one, else one tab elected with Web
   * Locks relays it over BroadcastChannel, else each tab opens its own. Every tab still behaves as
   * if it had its own stream: its own changes skip only it. Key `url` by the signed-in user (e.g.
   * `/events?u=42`) when one browser may switch users, and call `close()` on sign-out.
   * @defaultValue `false`
   */
  readonly share?: boolean;
  /**
   * The SharedWorker script of `share` (`client.worker.min.js`, shipped beside the bundles).
   * `false` skips the SharedWorker (the tabs elect a leader instead). @defaultValue the file beside
   * the client bundle (or `worker.js` beside the modules, loaded as a module worker)
   */
  readonly worker?: string | URL | false;
  /**
   * Where the stream starts: the page's render position, the id `SseServer.lastEventId()` gave
   * when the server rendered it. The stream then opens from there (`?lastEventId=` on its first
   * request) and replays what was published since, or resyncs once when it cannot; nothing is
   * refreshed when nothing changed. With `share: true` a tab joining a stream that is already past
   * its position is handed what it missed (or resyncs once). `false` starts at the moment of
   * connecting. @defaultValue the `content` of `<meta name="eventrail-position">`
   * ({@link POSITION_META}) when the page has one
   */
  readonly since?: string | false;
  /** The EventSource implementation. @defaultValue `globalThis.EventSource` (a SharedWorker uses its own) */
  readonly EventSource?: EventSourceConstructor;
  /** Every event except eventrail's own (`eventrail.*`), before elements refresh. */
  onEvent?(message: EventrailMessage): void;
  /**
   * The stream may have missed events (the server sent {@link RESYNC_EVENT}, or a stream came back
   * from a server that cannot replay). Return `false` to skip refreshing every declared element,
   * e.g. because you call `location.reload()` instead.
   */
  onResync?(reason: 'resync' | 'reconnect'): boolean | undefined;
  /** The connection changed state; handy for a "live" badge. */
  onStateChange?(state: ConnectionState): void;
  /** A stream opened and the server named it: `connectionId` is what skips this tab. */
  onConnected?(connectionId: string): void;
  /** How many tabs share the stream changed (always 1 without `share`). */
  onTabsChange?(tabs: number): void;
}

/** The handle {@link connect} returns. @public */
export interface EventrailConnection {
  /** Where the connection stands now. */
  readonly state: ConnectionState;
  /**
   * What skips this tab, once known (undefined between streams): the server's id of the stream,
   * or for a shared one `{connectionId}.{tabId}`.
   */
  readonly connectionId: string | undefined;
  /** How the stream is shared ({@link Sharing}); `none` without `share`. */
  readonly sharing: Sharing;
  /** How many tabs share the stream, this one included (1 when not shared). */
  readonly tabs: number;
  /** Calls `listener` for every event named `name`; returns the function that stops it. */
  on(name: string, listener: (message: EventrailMessage) => void): () => void;
  /** Asks every declared element to refresh now; returns how many were asked. */
  refreshAll(): number;
  /** `{ 'x-eventrail-origin': id }` while a stream is open, else `{}`: for your own `fetch` calls. */
  originHeaders(): Record<string, string>;
  /** Closes the stream, stops reconnecting and removes every listener. Safe to call twice. */
  close(): void;
}
