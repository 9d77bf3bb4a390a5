/**
 * Fastify glue: `eventrail/fastify`. It imports nothing from Fastify; the types below are the few
 * members it uses, so Fastify 4 and 5 (on node:http, the default) both fit.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SseServer } from '../server.js';

/** The part of a Fastify request eventrail uses. @public */
export interface FastifyRequestLike {
  /** node:http's request. */
  readonly raw: IncomingMessage;
}

/** The part of a Fastify reply eventrail uses. @public */
export interface FastifyReplyLike {
  /** node:http's response: eventrail writes the stream to it. */
  readonly raw: ServerResponse;
  /** Tells Fastify that the handler answers by itself. */
  hijack(): unknown;
  /** Headers set with `reply.header()` (by a CORS plugin's hook, say) that are not sent yet. */
  getHeaders(): Record<string, number | string | readonly string[] | undefined>;
}

// A hijacked reply never sends these itself; copying them would break the stream.
const SKIPPED = new Set(['content-length', 'transfer-encoding']);

/**
 * A Fastify route handler serving eventrail's SSE stream. It hijacks the reply (Fastify must not
 * answer an open stream, and its `onSend` hooks do not run for it), copies the headers set on the
 * reply so far (e.g. by `@fastify/cors`), then hands `request.raw` and `reply.raw` to
 * `sse.handler`, which writes the status, the SSE headers and every event.
 *
 * @param sse - the server from `createSseServer`.
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { fastifyHandler } from 'eventrail/fastify';
 *
 * const app = Fastify();
 * app.get('/events', fastifyHandler(sse));
 * ```
 * @public
 */
export function fastifyHandler(
  sse: Pick<SseServer, 'handler'>,
): (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<void> {
  return (request, reply) => {
    reply.hijack();
    const res = reply.raw;
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value === undefined || SKIPPED.has(name.toLowerCase()) || res.hasHeader(name)) continue;
      res.setHeader(name, value);
    }
    return sse.handler(request.raw, res);
  };
}
