import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import type { SseServerOptions } from '../src/options.js';
import type { Logger } from '../src/types.js';
import {
  queryResolver,
  queryRouter,
  startApp,
  startRedisApp,
  type TestPrincipal,
} from './helpers/apps.js';
import { redisCommand, redisSkipReason, startRedis } from './helpers/redis.js';
import { openRaw, waitFor } from './helpers/sse.js';
import { startProxy } from './helpers/tcp-proxy.js';

describe('stats and health', () => {
  it('counts events in and out, replays, resyncs and disconnects by reason', async () => {
    const app = await startApp('node:http', {
      broker: createMemoryBroker(),
      resolver: queryResolver,
      router: queryRouter,
    });
    const a = await openRaw(`${app.url}/events`);
    const b = await openRaw(`${app.url}/events`);
    await waitFor(() => a.events.length === 1 && b.events.length === 1, 'connected');
    await app.sse.publisher.publishType('gym:1:a', 'x.y');
    await waitFor(() => a.events.length === 2 && b.events.length === 2, 'delivered');
    const id = a.events.at(-1)?.id ?? '';
    a.abort();
    await waitFor(() => app.sse.stats().connections === 1, 'a gone');
    await app.sse.publisher.publishType('gym:1:a', 'x.y');
    const back = await openRaw(`${app.url}/events`, { headers: { 'Last-Event-ID': id } });
    const bad = await openRaw(`${app.url}/events`, { headers: { 'Last-Event-ID': 'garbage' } });
    await waitFor(() => back.events.length === 2 && bad.events.length === 2, 'replay and resync');
    const stats = app.sse.stats();
    assert.equal(stats.eventsIn, 2);
    assert.equal(stats.eventsOut, 3, 'two clients, then one');
    assert.equal(stats.replayed, 1);
    assert.equal(stats.resyncs, 1);
    assert.equal(stats.disconnects['client-closed'], 1);
    assert.equal(stats.broker, 'ready');
    assert.deepEqual(stats.silentShards, [], 'the memory broker has no shards');
    assert.deepEqual(app.sse.health(), {
      ok: true,
      broker: 'ready',
      silentShards: [],
      closed: false,
    });
    back.abort();
    bad.abort();
    b.abort();
    await app.stop();
    assert.deepEqual(app.sse.health(), {
      ok: false,
      broker: 'ready',
      silentShards: [],
      closed: true,
    });
  });

  it('logs structured events through a pino-shaped logger', async () => {
    const lines: Array<[string, Record<string, unknown>, string]> = [];
    const log = (level: string) => (fields: object, message: string) => {
      lines.push([level, fields as Record<string, unknown>, message]);
    };
    const logger = {
      error: log('error'),
      warn: log('warn'),
      info: log('info'),
      debug: log('debug'),
    };
    await loggedFlow(logger, () => lines.some(([, , m]) => m.includes('disconnected')));
    const levelOf = (code: string) => lines.find(([, f]) => f.code === code)?.[0];
    assert.equal(levelOf('unauthorized'), 'debug');
    assert.equal(levelOf('limit-exceeded'), 'warn');
    assert.ok(
      lines.some(([level, f, m]) => level === 'debug' && m.includes('connected') && f.connectionId),
    );
  });

  it('writes nothing anywhere without a logger', async () => {
    const written: string[] = [];
    const restore = captureOutput(written);
    try {
      let closed = false;
      await loggedFlow(undefined, () => closed, {
        onClientDisconnect: () => {
          closed = true;
        },
      });
    } finally {
      restore();
    }
    assert.deepEqual(written, []);
  });

  it('a logger that throws does not break closing: the stream is removed and the hook still runs', async (t) => {
    const fail = (): void => {
      throw new Error('broken logger');
    };
    const app = await startApp('node:http', {
      broker: createMemoryBroker(),
      resolver: queryResolver,
      router: queryRouter,
      logger: { error: fail, warn: fail, info: fail, debug: fail },
      hooks: { onClientDisconnect: () => disconnects++ },
    });
    t.after(() => app.stop());
    let disconnects = 0;
    const s = await openRaw(`${app.url}/events`);
    await waitFor(() => s.events.length === 1, 'connected');
    s.abort();
    await waitFor(() => app.sse.stats().connections === 0, 'the closed stream removed');
    await waitFor(() => disconnects === 1, 'onClientDisconnect after the debug line');
    assert.equal(app.sse.stats().disconnects['client-closed'], 1);
    assert.equal(app.sse.stats().hubs, 1, 'its hub released, idling out');
  });

  it('health follows the Redis subscription, not only the TCP link', {
    skip: redisSkipReason(),
  }, async () => {
    const redis = await startRedis();
    const proxy = await startProxy(redis.port);
    const app = await startRedisApp({
      url: proxy.url,
      probeIntervalMs: 150,
      publishTimeoutMs: 400,
    });
    const s = await openRaw(`${app.url}/events`);
    await waitFor(() => app.sse.health().ok, 'healthy');
    // Three clients over two scopes and overlapping routes: two patterns, here and in Redis.
    const more = [
      await openRaw(`${app.url}/events?route=gym:1:a&route=gym:1:*`),
      await openRaw(`${app.url}/events?scope=2`),
    ];
    await waitFor(() => more.every((m) => m.events.length === 1), 'more connected');
    assert.equal(app.sse.stats().hubs, 2);
    assert.equal(await redisCommand(redis.port, 'PUBSUB', 'NUMPAT'), 2);
    for (const m of more) m.abort();
    // Open but dead: the link is up, nothing comes through, and no new link can be made yet.
    proxy.refuseNew(true);
    proxy.blackholeSubscribers();
    await waitFor(
      () => app.sse.health().broker === 'connecting',
      'the dead subscription noticed',
      5000,
    );
    assert.equal(app.sse.health().ok, false);
    proxy.refuseNew(false);
    await waitFor(() => app.sse.health().ok, 'healthy again once replaced', 10_000);
    await redis.kill();
    await waitFor(() => !app.sse.health().ok, 'unhealthy while Redis is down', 5000);
    await redis.restart();
    await waitFor(() => app.sse.health().ok, 'healthy after the restart', 10_000);
    s.abort();
    await app.stop();
    await proxy.close();
    await redis.stop();
  });
});

/**
 * A refused login, a refused route limit, a connect and a disconnect, on a server with `logger`;
 * resolves once `done` (the disconnect was seen).
 */
async function loggedFlow(
  logger: Logger | undefined,
  done: () => boolean,
  hooks: SseServerOptions<TestPrincipal>['hooks'] = {},
): Promise<void> {
  const app = await startApp('node:http', {
    broker: createMemoryBroker(),
    resolver: queryResolver,
    router: queryRouter,
    ...(logger ? { logger } : {}),
    hooks,
    maxRoutesPerPrincipal: 1,
  });
  const denied = await fetch(`${app.url}/events?deny=1`);
  assert.equal(denied.status, 401);
  await denied.text();
  const tooMany = await fetch(`${app.url}/events?route=gym:1:a&route=gym:1:b`);
  assert.equal(tooMany.status, 500);
  await tooMany.text();
  const s = await openRaw(`${app.url}/events`);
  await waitFor(() => s.events.length === 1, 'connected');
  s.abort();
  await waitFor(done, 'the disconnect');
  await app.stop();
}

/** Records what goes to the console, stderr or process warnings until the returned restore. */
function captureOutput(written: string[]): () => void {
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) console[m] = (...args: unknown[]) => void written.push(`${m} ${args}`);
  const stderr = process.stderr.write;
  process.stderr.write = ((chunk: unknown) => written.push(`stderr ${chunk}`) > 0) as typeof stderr;
  const onWarning = (w: Error) => void written.push(`warning ${w.message}`);
  process.on('warning', onWarning);
  return () => {
    methods.forEach((m, i) => {
      console[m] = saved[i] as (typeof console)[typeof m];
    });
    process.stderr.write = stderr;
    process.off('warning', onWarning);
  };
}
