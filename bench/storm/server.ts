/**
 * One eventrail instance of the storm scenario: the Redis broker with its default history, and on
 * SIGTERM a graceful shutdown as a deploy does it: the listener closes (the balancer's next pick
 * is the other instance) and `sse.close()` drains the streams over `drainWindowMs` (its default, 10 s).
 */
import { createServer } from 'node:http';
import { createSseServer } from 'eventrail';
import { createRedisBroker } from 'eventrail/redis';
import { redisUrl, scopeOf, serve } from '../systems/common.js';

const broker = createRedisBroker({ url: redisUrl() });
let users = 0;
const sse = createSseServer({
  broker,
  resolver: (request) => {
    const scopeId = scopeOf(request.url.search);
    if (scopeId === 0) throw new Error('scope required');
    return { userId: ++users, scopeId };
  },
  router: (principal) => [`bench:${principal.scopeId}:*`],
  maxConnections: 100_000,
  // OPENINGS: maxOpeningsPerSecond (0, the default: off).
  maxOpeningsPerSecond: Number(process.env.OPENINGS ?? 0),
});

const server = createServer((req, res) => {
  if (req.url?.startsWith('/events')) void sse.handler(req, res);
  else res.writeHead(404).end();
});
process.once('SIGTERM', () => {
  server.close();
  void sse.close().then(async () => {
    await broker.close();
    process.exit(0);
  });
});
serve(server);
