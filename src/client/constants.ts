/**
 * Wire names the browser client shares with the server.
 *
 * The first four duplicate `src/wire/protocol.ts` on purpose, so that the client stays one
 * dependency-free folder a page can load as-is; `test/client.test.ts` asserts they are equal.
 */

/** Sent first on every stream; `data` is `{"connectionId":"..."}`. Same as `eventrail`'s. @public */
export const CONNECTED_EVENT = 'eventrail.connected';

/** The server says events may have been missed: refresh everything. Same as `eventrail`'s. @public */
export const RESYNC_EVENT = 'eventrail.resync';

/**
 * Sent right before an event a tab of a shared stream caused, so that only that tab skips it.
 * Same as `eventrail`'s.
 * @public
 */
export const ORIGIN_EVENT = 'eventrail.origin';

/** Carries this tab's connection id on its own requests, so its changes skip it. Same as `eventrail`'s. @public */
export const ORIGIN_HEADER = 'x-eventrail-origin';

/**
 * The attribute that declares which events refresh an element: a whitespace-separated list of SSE
 * event names, e.g. `data-eventrail-refresh="app.students.changed"`.
 * @public
 */
export const REFRESH_ATTRIBUTE = 'data-eventrail-refresh';

/**
 * The DOM event dispatched on a declared element when it must refresh. It does not bubble. With
 * htmx: `hx-trigger="eventrail:refresh"`.
 * @public
 */
export const REFRESH_EVENT = 'eventrail:refresh';

/**
 * The `name` of the `<meta>` that carries the page's render position (`SseServer.lastEventId()`):
 * `<meta name="eventrail-position" content="...">`. {@link connect} opens the stream from it.
 * @public
 */
export const POSITION_META = 'eventrail-position';

/**
 * The query parameter carrying the last event id when the client reconnects by itself (a browser
 * sends the `Last-Event-ID` header only on its own reconnects).
 * @public
 */
export const LAST_EVENT_ID_PARAM = 'lastEventId';
