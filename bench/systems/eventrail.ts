/**
 * eventrail as a user would mount it on node:http. BROKER=memory publishes in-process (the bench
 * sends the events over IPC); BROKER=redis subscribes through REDIS_URL, with the default history
 * unless HISTORY=off. PRESENCE_INTERVAL_MS turns presence (with its events) on.
 */
import { createServer } from 'node:http';
import { type Broker, createSseServer } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';
import { createRedisBroker } from 'eventrail/redis';
import { EVENT_TYPE } from '../protocol.js';
import { redisUrl, scopeOf, serve } from './common.js';

const broker: Broker =
  process.env.BROKER === 'redis'
    ? createRedisBroker({ url: redisUrl(), history: process.env.HISTORY !== 'off' })
    : createMemoryBroker();

let users = 0;
const sse = createSseServer({
  broker,
  // Every connection is another browser (another user): per-principal limits never apply.
  resolver: (request) => {
    const scopeId = scopeOf(request.url.search);
    if (scopeId === 0) throw new Error('scope required');
    return { userId: ++users, scopeId };
  },
  router: (principal) => [`bench:${principal.scopeId}:*`],
  // As the floor and the bridges do: drop a scope's subscription 1 s after its last client.
  hubIdleTimeoutMs: 1000,
  // The default (10,000 per process) is exactly the full run's count; leave room for churn.
  maxConnections: 100_000,
  // The presence scenario (bench/presence) turns presence on.
  ...(process.env.PRESENCE_INTERVAL_MS === undefined
    ? {}
    : { presence: { events: true, intervalMs: Number(process.env.PRESENCE_INTERVAL_MS) } }),
});

const server = createServer((req, res) => {
  if (req.url?.startsWith('/events')) void sse.handler(req, res);
  else res.writeHead(404).end();
});

serve(server, {
  publish: (channel, tick) =>
    void sse.publisher.publishEvent(channel, { eventType: EVENT_TYPE, data: tick }),
});
