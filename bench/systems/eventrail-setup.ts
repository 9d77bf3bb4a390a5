/**
 * What the bench's eventrail servers share (systems/eventrail.ts, storm/server.ts): every
 * connection is another browser, the scope its `?scope=N` names, mounted on node:http at /events.
 */
import { createServer, type Server } from 'node:http';
import type { Principal, SseServer, SseServerOptions } from 'eventrail';
import { scopeOf } from './common.js';

/**
 * The resolver, router and connection limit of a bench server: each connection another user (so
 * per-principal limits never apply) in scope N, routed to `bench:N:*`; room for far more streams
 * than the default 10,000 per process (a full run's count, before churn).
 */
export function benchStreams(): Pick<
  SseServerOptions<Principal>,
  'resolver' | 'router' | 'maxConnections'
> {
  let users = 0;
  return {
    resolver: (request) => {
      const scopeId = scopeOf(request.url.search);
      if (scopeId === 0) throw new Error('scope required');
      return { userId: ++users, scopeId };
    },
    router: (principal) => [`bench:${principal.scopeId}:*`],
    maxConnections: 100_000,
  };
}

/** A node:http server that hands /events to `sse` and answers anything else 404. */
export function eventsServer(sse: SseServer<Principal>): Server {
  return createServer((req, res) => {
    if (req.url?.startsWith('/events')) void sse.handler(req, res);
    else res.writeHead(404).end();
  });
}
