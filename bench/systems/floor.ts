/**
 * The floor for Node: bare node:http and ONE node-redis subscriber. Each event is decoded and
 * framed once; the same bytes are written to every connection of its scope. Nothing else: no
 * backpressure, no heartbeat, no auth.
 */
import { createServer, type ServerResponse } from 'node:http';
import { createClient } from 'redis';
import { redisUrl, ScopeSubscriptions, SSE_HEADERS, scopeOf, serve } from './common.js';

const subscriber = createClient({ url: redisUrl() });
await subscriber.connect();
const RETRY = Buffer.from('retry: 3000\n\n');

const scopes = new ScopeSubscriptions<ServerResponse>(
  (scope, members) =>
    subscriber
      .pSubscribe(`bench:${scope}:*`, (payload) => {
        const { event_type: type, data } = JSON.parse(payload) as {
          event_type: string;
          data: unknown;
        };
        const frame = Buffer.from(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
        for (const res of members) res.write(frame);
      })
      .then(() => undefined),
  (scope) => subscriber.pUnsubscribe(`bench:${scope}:*`).then(() => undefined),
);

const server = createServer((req, res) => {
  const scope = scopeOf(req.url);
  if (!req.url?.startsWith('/events') || scope === 0) {
    res.writeHead(404).end();
    return;
  }
  res.socket?.setNoDelay(true);
  void scopes.join(scope, res).then(() => {
    res.writeHead(200, SSE_HEADERS);
    res.write(RETRY);
  });
  res.once('close', () => scopes.leave(scope, res));
});

serve(server);
