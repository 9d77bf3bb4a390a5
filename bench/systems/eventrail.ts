/**
 * eventrail as a user would mount it on node:http. BROKER=memory publishes in-process (the bench
 * sends the events over IPC); BROKER=redis subscribes through REDIS_URL, with the default history
 * unless HISTORY=off. PRESENCE_INTERVAL_MS turns presence (with its events) on.
 */
import { type Broker, createSseServer } from 'eventrail';
import { createMemoryBroker } from 'eventrail/memory';
import { createRedisBroker } from 'eventrail/redis';
import { EVENT_TYPE } from '../protocol.js';
import { redisUrl, serve } from './common.js';
import { benchStreams, eventsServer } from './eventrail-setup.js';

const broker: Broker =
  process.env.BROKER === 'redis'
    ? createRedisBroker({ url: redisUrl(), history: process.env.HISTORY !== 'off' })
    : createMemoryBroker();

const sse = createSseServer({
  broker,
  ...benchStreams(),
  // As the floor and the bridges do: drop a scope's subscription 1 s after its last client.
  hubIdleTimeoutMs: 1000,
  // The presence scenario (bench/presence) turns presence on.
  ...(process.env.PRESENCE_INTERVAL_MS === undefined
    ? {}
    : { presence: { events: true, intervalMs: Number(process.env.PRESENCE_INTERVAL_MS) } }),
});

const server = eventsServer(sse);

serve(server, {
  publish: (channel, tick) =>
    void sse.publisher.publishEvent(channel, { eventType: EVENT_TYPE, data: tick }),
});
