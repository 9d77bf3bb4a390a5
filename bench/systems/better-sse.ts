/**
 * better-sse behind the Redis bridge a Node user writes today: one node-redis subscriber, one
 * better-sse Channel per scope, and `channel.broadcast(data, type)` for each Redis message.
 */
import { createServer } from 'node:http';
import { type Channel, createChannel, createSession } from 'better-sse';
import { createClient } from 'redis';
import { redisUrl, ScopeSubscriptions, scopeOf, serve } from './common.js';

const subscriber = createClient({ url: redisUrl() });
await subscriber.connect();
const channels = new Map<number, Channel>();

const scopes = new ScopeSubscriptions<object>(
  async (scope) => {
    const channel = createChannel();
    channels.set(scope, channel);
    await subscriber.pSubscribe(`bench:${scope}:*`, (payload) => {
      const { event_type: type, data } = JSON.parse(payload) as {
        event_type: string;
        data: unknown;
      };
      channel.broadcast(data, type);
    });
  },
  async (scope) => {
    channels.delete(scope);
    await subscriber.pUnsubscribe(`bench:${scope}:*`);
  },
);

const server = createServer(async (req, res) => {
  const scope = scopeOf(req.url);
  if (!req.url?.startsWith('/events') || scope === 0) {
    res.writeHead(404).end();
    return;
  }
  res.socket?.setNoDelay(true);
  const member = {};
  await scopes.join(scope, member);
  // Same heartbeat period as eventrail's default (better-sse's own is 10 s).
  const session = await createSession(req, res, { keepAlive: 30_000 });
  channels.get(scope)?.register(session);
  session.once('disconnected', () => scopes.leave(scope, member));
});

serve(server);
