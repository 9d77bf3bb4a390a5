/**
 * Koa glue: `eventrail/koa`. It imports nothing from Koa; the type below is the part of a Koa
 * context it uses, so Koa 2 and 3 both fit.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SseServer } from '../server.js';

/** The part of a Koa context eventrail uses. @public */
export interface KoaContextLike {
  /** node:http's request. */
  readonly req: IncomingMessage;
  /** node:http's response: eventrail writes the stream to it. */
  readonly res: ServerResponse;
  /** Set to `false` so that Koa leaves the response to eventrail. */
  respond?: boolean | undefined;
}

/**
 * A Koa middleware serving eventrail's SSE stream: it sets `ctx.respond = false` (Koa must not end
 * an open stream) and hands `ctx.req` and `ctx.res` to `sse.handler`. Headers set earlier with
 * `ctx.set()` (CORS, say) are sent with the stream. It answers every request it gets: mount it on
 * your events path, with a router or a path check.
 *
 * @param sse - the server from `createSseServer`.
 * @example
 * ```ts
 * import Koa from 'koa';
 * import { koaMiddleware } from 'eventrail/koa';
 *
 * const events = koaMiddleware(sse);
 * const app = new Koa();
 * app.use((ctx, next) => (ctx.path === '/events' ? events(ctx) : next()));
 * // or with @koa/router: router.get('/events', events);
 * ```
 * @public
 */
export function koaMiddleware(
  sse: Pick<SseServer, 'handler'>,
): (ctx: KoaContextLike) => Promise<void> {
  return (ctx) => {
    ctx.respond = false;
    return sse.handler(ctx.req, ctx.res);
  };
}
