/**
 * Redis unreachable (never started, killed, paused): every SSE request still gets its first byte
 * within `openTimeoutMs`, the log says so once per transition, health tells the truth, and the
 * clients recover when Redis is back. Everything runs against real redis-server processes.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createRedisBroker } from '../src/brokers/redis.js';
import { createMetrics } from '../src/integrations/metrics.js';
import type { Logger } from '../src/types.js';
import { queryResolver, queryRouter, type RunningApp, startApp } from './helpers/apps.js';
import { startExample } from './helpers/examples.js';
import {
  findFreePort,
  type RedisProcess,
  redisCommand,
  redisSkipReason,
  startRedis,
} from './helpers/redis.js';
import { openRaw, openSource, sleep, waitFor } from './helpers/sse.js';
import { stopwatch } from './helpers/stopwatch.js';

const OPEN_TIMEOUT_MS = 1_000;
/** What the bound may be missed by on a busy machine (timers, the event loop, fetch itself). */
const SLACK_MS = 1_500;
const RETRY_MS = 3_000;
const JITTER_MS = 2_000;

/** A pino-shaped logger that keeps its lines. */
function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const line = (level: string) => (_fields: object, message: string) => {
    lines.push(`${level} ${message}`);
  };
  return {
    lines,
    error: line('error'),
    warn: line('warn'),
    info: line('info'),
    debug: () => {},
  };
}

interface Rig {
  readonly app: RunningApp;
  readonly errors: Error[];
  readonly logger: ReturnType<typeof recordingLogger>;
  stop(): Promise<void>;
}

async function rig(url: string, reminderMs = 5_000): Promise<Rig> {
  const errors: Error[] = [];
  const logger = recordingLogger();
  const broker = createRedisBroker({
    url,
    publishTimeoutMs: 800,
    probeIntervalMs: 300,
    outageReminderMs: reminderMs,
    onError: (err) => errors.push(err),
    logger,
  });
  const app = await startApp('node:http', {
    broker,
    resolver: queryResolver,
    router: queryRouter,
    openTimeoutMs: OPEN_TIMEOUT_MS,
    outageReminderMs: reminderMs,
    retryMs: RETRY_MS,
    drainJitterMs: JITTER_MS,
    hooks: { onError: (err) => errors.push(err) },
    logger,
  });
  return {
    app,
    errors,
    logger,
    async stop() {
      await app.stop();
      await broker.close();
    },
  };
}

/** Opens a raw stream, checks it was answered within the bound with only a retry, and ended. */
async function assertToldToRetry(url: string, what: string): Promise<void> {
  const clock = stopwatch();
  const stream = await openRaw(url);
  clock.within(OPEN_TIMEOUT_MS + SLACK_MS, `${what}: first byte (bound ${OPEN_TIMEOUT_MS} ms)`);
  await stream.ended;
  assert.equal(stream.status, 200, what);
  assert.equal(stream.events.length, 0, `${what}: no event, only a retry: ${stream.text}`);
  assert.ok(
    stream.retry !== undefined && stream.retry >= RETRY_MS && stream.retry <= RETRY_MS + JITTER_MS,
    `${what}: retry ${stream.retry} within ${RETRY_MS}..${RETRY_MS + JITTER_MS}`,
  );
}

describe('Redis unreachable', { skip: redisSkipReason() }, () => {
  it('the basic example prints one short line per transition, no stack trace', async () => {
    const port = await findFreePort(); // nothing listens there
    const example = await startExample('examples/basic/server.ts', {
      REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    try {
      // node-redis retries many times over these 6 s; browsers keep arriving meanwhile.
      const until = Date.now() + 6_000;
      while (Date.now() < until) {
        const stream = await openRaw(`${example.url}/events?scope=${1 + (Date.now() % 3)}`);
        await stream.ended;
        assert.equal(stream.events.length, 0);
        assert.ok(stream.retry !== undefined, 'told to retry');
      }
      const lines = example
        .output()
        .split('\n')
        .filter((line) => line.trim() !== '');
      assert.ok(
        !lines.some((line) => /^\s+at /.test(line)),
        `no stack trace:\n${lines.join('\n')}`,
      );
      // The start line, Redis unreachable, the first refused stream.
      assert.ok(lines.length <= 3, `${lines.length} lines:\n${lines.join('\n')}`);
      assert.ok(
        lines.some((line) => /Redis unreachable \(connect ECONNREFUSED/.test(line)),
        lines.join('\n'),
      );
    } finally {
      await example.stop();
    }
  });

  const servers: RedisProcess[] = [];
  after(async () => {
    for (const server of servers) await server.stop();
  });

  it('never started: a new stream is told to retry within openTimeoutMs; close() answers waiting ones at once', async () => {
    const port = await findFreePort(); // nothing listens there
    const r = await rig(`redis://127.0.0.1:${port}`);
    try {
      await assertToldToRetry(`${r.app.url}/events?scope=7`, 'scope 7');
      const stats = r.app.sse.stats();
      assert.equal(stats.refused.broker, 1);
      assert.equal(stats.opening, 0);
      assert.equal(stats.connections, 0, 'a refused stream holds no slot');
      assert.equal(r.app.sse.health().ok, false);
      // The same in Prometheus terms.
      const registry = new Registry();
      createMetrics({ registry }).observe(r.app.sse);
      const text = await registry.metrics();
      assert.match(text, /^eventrail_streams_refused_total\{reason="broker"\} 1$/m);
      assert.match(text, /^eventrail_broker_up 0$/m);
      assert.match(text, /^eventrail_streams_opening 0$/m);
      // A request waiting for the broker is answered as soon as the server closes.
      const waiting = openRaw(`${r.app.url}/events?scope=8`);
      await waitFor(() => r.app.sse.stats().opening === 1, 'a stream waiting for the broker');
      const closing = stopwatch();
      await r.app.sse.close();
      const stream = await waiting;
      await stream.ended;
      closing.within(500, 'close() answering the waiting stream');
      assert.equal(stream.events.length, 0);
      assert.ok(stream.retry !== undefined, 'told to retry');
      assert.equal(r.app.sse.stats().refused.closing, 1);
    } finally {
      const closing = stopwatch();
      await r.stop();
      closing.within(1_000, 'the broker closing at once while Redis is down');
    }
  });

  it('killed for 20 s: bounded answers, one report per transition, health both ways, every client recovers', {
    timeout: 90_000,
  }, async (t) => {
    const redis = await startRedis();
    servers.push(redis);
    const r = await rig(redis.url);
    try {
      const a = openSource(`${r.app.url}/events?scope=1`, ['students.changed', 'eventrail.resync']);
      await a.opened;
      await waitFor(() => a.connectionId() !== undefined, 'A connected');
      await r.app.sse.publisher.publishType('gym:1:students', 'students.changed');
      await waitFor(() => a.named('students.changed').length === 1, 'A receives before the outage');
      assert.equal(r.app.sse.health().ok, true);

      await redis.kill();
      const down = Date.now();
      await waitFor(() => !r.app.sse.health().ok, 'health turns false', 5_000);
      // A scope already subscribed and a scope nobody held: both answered within the bound.
      await assertToldToRetry(`${r.app.url}/events?scope=1`, 'scope 1 (subscribed)');
      await assertToldToRetry(`${r.app.url}/events?scope=2`, 'scope 2 (new)');
      // A real EventSource opened during the outage keeps being told to come back later.
      const b = openSource(`${r.app.url}/events?scope=2`, ['students.changed', 'eventrail.resync']);
      // Browsers keep arriving for the rest of the 20 s.
      let arrivals = 0;
      while (Date.now() - down < 20_000) {
        const stream = await openRaw(`${r.app.url}/events?scope=${3 + (arrivals % 5)}`);
        await stream.ended;
        assert.equal(stream.events.length, 0, 'no stream opens while Redis is down');
        arrivals++;
        await sleep(200);
      }
      // B keeps trying (each try waits up to openTimeoutMs): wait for a moment between its tries.
      await waitFor(
        () => r.app.sse.stats().opening === 0,
        'no stream waiting for the broker',
        10_000,
      );
      const stats = r.app.sse.stats();
      assert.ok(stats.refused.broker >= arrivals + 2, `refused ${stats.refused.broker}`);
      assert.equal(stats.connections, 1, 'only A holds a slot');
      // The bound: the broker reports the outage once, the server its first refusal once, each
      // then at most one reminder per 5 s over 20 s: 2 + 2 * 4 reports.
      const reports = r.errors.length;
      t.diagnostic(
        `20 s outage: ${reports} onError calls, ${r.logger.lines.length} log lines, ${arrivals} streams refused meanwhile`,
      );
      assert.ok(
        reports >= 2 && reports <= 10,
        `onError called ${reports} times: ${r.errors.map((e) => e.message).join(' | ')}`,
      );
      assert.ok(r.logger.lines.length <= 10, `log lines: ${r.logger.lines.join('\n')}`);
      assert.ok(
        r.logger.lines.some((l) => /^error eventrail: Redis unreachable/.test(l)),
        r.logger.lines.join('\n'),
      );
      assert.ok(
        r.logger.lines.some((l) =>
          /^warn eventrail: Redis still unreachable after [\d.]+ s \(\d+ failed attempts/.test(l),
        ),
        `a reminder: ${r.logger.lines.join('\n')}`,
      );

      await redis.restart();
      await waitFor(() => r.app.sse.health().ok, 'health turns true again', 10_000);
      await waitFor(
        () => r.logger.lines.some((l) => /^info eventrail: Redis back after [\d.]+ s/.test(l)),
        'the broker says Redis is back',
      );
      // B comes back by itself (its retry) and receives the next event of its scope.
      await waitFor(() => b.connectionId() !== undefined, 'B connects after Redis returns', 15_000);
      assert.ok(
        r.logger.lines.some((l) => /^info eventrail: new streams open again after/.test(l)),
        r.logger.lines.join('\n'),
      );
      await r.app.sse.publisher.publishType('gym:2:students', 'students.changed');
      await waitFor(() => b.named('students.changed').length === 1, 'B receives the next event');
      // A stayed open through the outage: the next event, after a resync (Redis came back empty,
      // so the history cannot prove nothing was missed).
      await r.app.sse.publisher.publishType('gym:1:students', 'students.changed');
      await waitFor(() => a.named('students.changed').length === 2, 'A receives the next event');
      assert.equal(
        a.named('eventrail.resync').length,
        1,
        `A was told to resync: ${JSON.stringify(a.events)} ${r.errors.map((e) => e.message).join(' | ')}`,
      );
      const names = a.events.map((e) => e.name);
      assert.deepEqual(
        names.slice(-2),
        ['eventrail.resync', 'students.changed'],
        'the resync came at the gap',
      );
    } finally {
      await r.stop();
    }
  });

  it('paused (CLIENT PAUSE): bounded answers, health false during the pause and true after', {
    timeout: 60_000,
  }, async () => {
    const redis = await startRedis();
    servers.push(redis);
    const r = await rig(redis.url);
    try {
      const a = openSource(`${r.app.url}/events?scope=1`, ['students.changed', 'eventrail.resync']);
      await a.opened;
      await waitFor(() => r.app.sse.health().ok, 'healthy before the pause');
      const pauseMs = 6_000;
      await redisCommand(redis.port, 'CLIENT', 'PAUSE', String(pauseMs), 'ALL');
      const paused = stopwatch();
      await assertToldToRetry(`${r.app.url}/events?scope=9`, 'scope 9 (new) while paused');
      await assertToldToRetry(`${r.app.url}/events?scope=1`, 'scope 1 (subscribed) while paused');
      await waitFor(() => !r.app.sse.health().ok, 'health turns false while paused', 4_000);
      paused.within(pauseMs, 'all of it during the pause');
      await waitFor(() => r.app.sse.health().ok, 'health turns true after the pause', 15_000);
      const c = openSource(`${r.app.url}/events?scope=9`, ['students.changed']);
      await c.opened;
      await waitFor(() => c.connectionId() !== undefined, 'a new stream opens after the pause');
      await r.app.sse.publisher.publishType('gym:1:students', 'students.changed');
      await r.app.sse.publisher.publishType('gym:9:students', 'students.changed');
      await waitFor(() => a.named('students.changed').length === 1, 'A receives after the pause');
      await waitFor(() => c.named('students.changed').length === 1, 'C receives');
    } finally {
      await r.stop();
    }
  });
});
