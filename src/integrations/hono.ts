/**
 * Hono glue: `eventrail/hono`. It imports nothing from Hono; the type below is the part of a Hono
 * context it uses.
 * @packageDocumentation
 */
import type { SseServer } from '../server.js';

/** The part of a Hono context eventrail uses. @public */
export interface HonoContextLike {
  /** Hono's request; `raw` is the Web `Request`. */
  readonly req: { readonly raw: Request };
  /** Hono's bindings: on Bun, `Bun.serve`'s server, which lifts its idle timeout per stream. */
  readonly env?: unknown;
}

/**
 * A Hono handler serving eventrail's SSE stream as a streaming Web `Response` (`sse.fetch`). A
 * client that goes away aborts the request's signal or cancels the response body, and either one
 * releases the connection; `@hono/node-server` does both.
 *
 * @param sse - the server from `createSseServer`.
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { honoHandler } from 'eventrail/hono';
 *
 * const app = new Hono();
 * app.get('/events', honoHandler(sse));
 * ```
 * @public
 */
export function honoHandler(
  sse: Pick<SseServer, 'fetch'>,
): (c: HonoContextLike) => Promise<Response> {
  return (c) => sse.fetch(c.req.raw, c.env);
}
