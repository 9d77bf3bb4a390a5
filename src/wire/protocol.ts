/**
 * Names eventrail itself uses on the wire, shared by the server and the browser client.
 * They are never prefixed by `eventNamePrefix`.
 */

/**
 * Sent once at the start of every stream: `data` is `{"connectionId":"..."}`. The browser sends
 * that id back as {@link ORIGIN_HEADER} on the requests it makes, so that the events they cause
 * skip the tab that caused them.
 * @public
 */
export const CONNECTED_EVENT = 'eventrail.connected';

/**
 * Tells the browser it may have missed events and must refresh everything it shows.
 * @public
 */
export const RESYNC_EVENT = 'eventrail.resync';

/**
 * Sent, only to the connection an origin `{connectionId}.{tabId}` names, right before the event
 * that origin published and under the same SSE id: `data` is `{"tab":"<tabId>","event":"<name>"}`.
 * A shared stream (`eventrail/client` with `share: true`) hands that event to every tab but that
 * one.
 * @public
 */
export const ORIGIN_EVENT = 'eventrail.origin';

/** The request header that carries the connection id of the tab making a change. @public */
export const ORIGIN_HEADER = 'x-eventrail-origin';

/** A connection id, optionally `.` and a tab id: at most 193 characters, never CR, LF or NUL. */
const ORIGIN = /^[A-Za-z0-9_-]{1,128}(?:\.[A-Za-z0-9_-]{1,64})?$/;

/**
 * True when `value` can be an origin: a connection id (1-128 characters of `[A-Za-z0-9_-]`), which
 * skips that connection, or `{connectionId}.{tabId}` (a tab id of 1-64 such characters), which
 * names one tab of a connection several tabs share: that connection receives the event, preceded
 * by {@link ORIGIN_EVENT}, and skips that tab only.
 */
export function isOrigin(value: unknown): value is string {
  return typeof value === 'string' && ORIGIN.test(value);
}

/** The connection an origin names, and its tab when the origin is `{connectionId}.{tabId}`. */
export function splitOrigin(origin: string): { connection: string; tab: string | undefined } {
  const dot = origin.indexOf('.');
  return dot === -1
    ? { connection: origin, tab: undefined }
    : { connection: origin.slice(0, dot), tab: origin.slice(dot + 1) };
}

/**
 * Reads the origin a browser sent in {@link ORIGIN_HEADER}, for passing on as
 * `publishEvent(channel, { ..., origin })`. Returns undefined when it is missing or malformed, so a
 * hostile header can never fail a publish.
 *
 * @example
 * ```ts
 * await publisher.publishEvent('gym:1:students', { eventType: 'students.changed', origin: readOrigin(req.headers) });
 * ```
 * @public
 */
export function readOrigin(
  headers: Headers | Readonly<Record<string, string | string[] | undefined>>,
): string | undefined {
  const value = headers instanceof Headers ? headers.get(ORIGIN_HEADER) : headers[ORIGIN_HEADER];
  return isOrigin(value) ? value : undefined;
}

/**
 * The query parameter a client uses to send its last event id when it reconnects by hand (a
 * browser sends the `Last-Event-ID` header only on its own reconnects).
 * @public
 */
export const LAST_EVENT_ID_PARAM = 'lastEventId';

/**
 * The presence of a scope, written to its streams when the server's `presence.events` is on:
 * `data` is `{"scope":"gym:1","count":3,"users":["1","2","3"]}` (users sorted, at most
 * `presence.roster` of them; `count` counts them all). Never prefixed.
 * @public
 */
export const PRESENCE_EVENT = 'eventrail.presence';
