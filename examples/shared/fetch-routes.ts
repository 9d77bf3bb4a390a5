/**
 * The HTTP contract of examples/basic (see contract.ts) as one Web `(Request) => Response`
 * function, for the runtimes' own fetch servers (examples/bun, examples/deno). `events` answers
 * `/events`: each runtime passes its own server along to `sse.fetch` when it has one.
 */
import type { Demo } from './contract.js';

/**
 * Answers every route of the contract; `/events` through `events`, which also gets what the
 * runtime passes after the request (Bun: its server; Deno: connection info).
 */
export function fetchRoutes<S>(
  demo: Demo,
  events: (request: Request, server: S) => Promise<Response>,
): (request: Request, server: S) => Promise<Response> {
  return async (request, server) => {
    const { pathname } = new URL(request.url);
    if (pathname === '/events') return events(request, server);
    if (pathname === '/publish') {
      const { status, body } = await demo.publish(request.method, request.url);
      return Response.json(body, { status });
    }
    if (pathname === '/stats' && request.method === 'GET') return Response.json(demo.stats());
    return new Response('Not Found\n', { status: 404, headers: { 'Content-Type': 'text/plain' } });
  };
}
