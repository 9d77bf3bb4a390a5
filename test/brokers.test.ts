import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient } from 'redis';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createRedisBroker } from '../src/brokers/redis.js';
import { EventrailError } from '../src/errors.js';
import {
  type BrokerFactory,
  brokerContract,
  collector,
  QUIET_MS,
  rejectsWithCode,
  sleep,
  withDeadline,
} from './helpers/broker-contract.js';
import { givenClientTests, numpat } from './helpers/given-clients.js';
import { redisCli, redisCommand, redisSkipReason, startRedis } from './helpers/redis.js';
import { redisBrokerContracts, redisPerFile } from './helpers/redis-brokers.js';
import { stopwatch } from './helpers/stopwatch.js';

const skipRedis = redisSkipReason();

// One redis-server for this file, started by the first test that needs it.
const getRedis = redisPerFile();

/** Polls `probe` every `intervalMs` until it returns true; fails with `what` after `timeoutMs`. */
async function eventually(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean> | boolean,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what}: not the case within ${timeoutMs} ms`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}

async function clientCount(port: number, type?: 'pubsub'): Promise<number> {
  const args = type ? ['CLIENT', 'LIST', 'TYPE', type] : ['CLIENT', 'LIST'];
  const list = await redisCommand(port, ...args);
  assert.equal(typeof list, 'string');
  // The connection asking is in the list too, unless we only asked for pubsub ones.
  const lines = String(list)
    .split('\n')
    .filter((line) => line.trim() !== '');
  return type ? lines.length : lines.length - 1;
}

function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
}

// ---------------------------------------------------------------------------------------------

const memoryFactory: BrokerFactory = async ({ onError }) => {
  const broker = createMemoryBroker({ onError });
  return { broker, cleanup: () => broker.close() };
};

brokerContract('memory broker', memoryFactory);
redisBrokerContracts('Redis broker', getRedis, 'pattern');
givenClientTests('node-redis 6', createClient, getRedis, skipRedis);

// ---------------------------------------------------------------------------------------------

describe('createRedisBroker options', () => {
  const fakePublisher = { publish: async () => 0 };
  const fakeSubscriber = { pSubscribe: async () => undefined, pUnsubscribe: async () => undefined };
  const invalid: [string, () => unknown][] = [
    ['no url and no clients', () => createRedisBroker({})],
    [
      'url and a publisher',
      () => createRedisBroker({ url: 'redis://127.0.0.1:1', publisher: fakePublisher }),
    ],
    [
      'url and a subscriber',
      () => createRedisBroker({ url: 'redis://127.0.0.1:1', subscriber: fakeSubscriber }),
    ],
    ['a publisher only', () => createRedisBroker({ publisher: fakePublisher })],
    ['a subscriber only', () => createRedisBroker({ subscriber: fakeSubscriber })],
    [
      'publishTimeoutMs 0',
      () => createRedisBroker({ url: 'redis://127.0.0.1:1', publishTimeoutMs: 0 }),
    ],
    [
      'publishTimeoutMs NaN',
      () => createRedisBroker({ url: 'redis://127.0.0.1:1', publishTimeoutMs: Number.NaN }),
    ],
    ['null options', () => createRedisBroker(null as never)],
    ['a url that is not a string', () => createRedisBroker({ url: 5 as never })],
    ['historySize 0', () => createRedisBroker({ url: 'redis://127.0.0.1:1', historySize: 0 })],
    [
      'historyTtlMs that is not a number',
      () => createRedisBroker({ url: 'redis://127.0.0.1:1', historyTtlMs: 'x' as never }),
    ],
  ];
  for (const [what, make] of invalid) {
    it(`throws invalid-option for ${what}`, () => {
      assert.throws(make, (err: unknown) => {
        assert.ok(err instanceof EventrailError, `expected an EventrailError, got ${String(err)}`);
        assert.equal(err.code, 'invalid-option');
        return true;
      });
    });
  }
});

describe('Redis broker', { skip: skipRedis }, () => {
  it('refused for a bad option, it opens no connection to Redis', async () => {
    const redis = await getRedis();
    const before = await clientCount(redis.port);
    for (const bad of [{ historySize: 0 }, { historyTtlMs: -1 }, { outageReminderMs: 1.5 }]) {
      assert.throws(
        () => createRedisBroker({ url: redis.url, ...bad }),
        (err: unknown) => err instanceof EventrailError && err.code === 'invalid-option',
      );
    }
    await sleep(300);
    assert.equal(await clientCount(redis.port), before);
  });

  it('owns its connections in url mode: close() leaves no client in Redis and no socket here', async () => {
    const redis = await getRedis();
    const clientsBefore = await clientCount(redis.port);
    const handlesBefore = tcpHandles();
    const broker = createRedisBroker({ url: redis.url });
    const got = collector('gym:1:*');
    await broker.subscribe('gym:1:*', got.handler);
    await broker.publish('gym:1:students', 'hello');
    await got.waitFor(1);
    assert.equal(
      await clientCount(redis.port),
      clientsBefore + 2,
      'one publisher + one subscriber',
    );

    await broker.close();
    await eventually(
      'Redis sees the broker connections closed',
      2_000,
      async () => (await clientCount(redis.port)) === clientsBefore,
      20,
    );
    await eventually(
      'no TCP socket left in this process',
      2_000,
      () => tcpHandles() <= handlesBefore,
      20,
    );
  });

  it('uses exactly one subscriber connection for 20 patterns', async () => {
    const redis = await getRedis();
    const broker = createRedisBroker({ url: redis.url });
    try {
      const collectors = Array.from({ length: 20 }, (_, i) => collector(`gym:${i}:*`));
      const subs = await Promise.all(
        collectors.map((c, i) => broker.subscribe(`gym:${i}:*`, c.handler)),
      );
      assert.equal(await clientCount(redis.port, 'pubsub'), 1);
      assert.equal(await numpat(redis.port), 20);

      for (let i = 0; i < 20; i++) await broker.publish(`gym:${i}:students`, `to ${i}`);
      await Promise.all(collectors.map((c) => c.waitFor(1)));
      await sleep(100);
      collectors.forEach((c, i) => {
        assert.deepEqual(c.messages, [{ channel: `gym:${i}:students`, payload: `to ${i}` }]);
      });

      await Promise.all(subs.map((s) => s.unsubscribe()));
      assert.equal(await numpat(redis.port), 0);
    } finally {
      await withDeadline(broker.close(), 5_000, 'close()');
    }
  });

  it('trims a history by age (Redis clock) and lets an idle one expire', async () => {
    const redis = await getRedis();
    const broker = createRedisBroker({ url: redis.url, historyTtlMs: 1500, prefix: 'ttl:' });
    const admin = createClient({ url: redis.url });
    await admin.connect();
    const key = 'ttl:eventrail:history:{gym:1}';
    try {
      const history = broker.history;
      assert.ok(history, 'history on by default');
      const first = await history.append('gym:1', 'gym:1:students', '{"event_type":"a.b"}');
      // The rest at once (pipelined on one connection): 300 entries well inside the 1.5 s, however
      // busy the machine; one after the other, a slow one could take longer, and its age trim
      // would already have begun.
      await Promise.all(
        Array.from({ length: 299 }, () =>
          history.append('gym:1', 'gym:1:students', '{"event_type":"a.b"}'),
        ),
      );
      assert.equal(await admin.xLen(key), 300);
      const ttl = await admin.pTTL(key);
      assert.ok(ttl > 0 && ttl <= 1500, `the key expires with the history (${ttl} ms left)`);
      // Appends every 400 ms keep the key alive; past 1.5 s they trim the first 300 by age
      // (approximately: whole stream nodes).
      let last = first;
      for (let i = 0; i < 5; i++) {
        await sleep(400);
        last = await history.append('gym:1', 'gym:1:students', '{"event_type":"a.b"}');
      }
      const left = await admin.xLen(key);
      assert.ok(left < 150, `${left} of 305 entries left after the age trim`);
      assert.equal(await history.readSince('gym:1', first), null, 'a trimmed id cannot resume');
      assert.deepEqual(await history.readSince('gym:1', last), []);
      await sleep(1600);
      assert.equal(await admin.exists(key), 0, 'an idle history expires');
    } finally {
      await admin.quit();
      await withDeadline(broker.close(), 5_000, 'close()');
    }
  });

  it('resubscribes by itself after its subscriber connection is killed', async () => {
    const redis = await getRedis();
    const errors: Error[] = [];
    const broker = createRedisBroker({ url: redis.url, onError: (e) => errors.push(e) });
    try {
      const got = collector('gym:1:*');
      await broker.subscribe('gym:1:*', got.handler);
      await broker.publish('gym:1:students', 'before');
      await got.waitFor(1);

      assert.equal(await redisCli(redis.port, 'CLIENT', 'KILL', 'TYPE', 'pubsub'), '1');

      let attempt = 0;
      await eventually('a publish is delivered again', 5_000, async () => {
        await broker.publish('gym:1:students', `after ${attempt++}`);
        await sleep(50);
        return got.messages.some((m) => m.payload.startsWith('after '));
      });
      assert.equal(await numpat(redis.port), 1, 'the pattern is subscribed again, once');
      assert.equal(await clientCount(redis.port, 'pubsub'), 1);
      for (const error of errors) assert.ok(error instanceof Error);
    } finally {
      await withDeadline(broker.close(), 5_000, 'close()');
    }
  });

  it('close() settles quickly while Redis is down, even with a publish still queued', async () => {
    const redis = await startRedis(); // its own server: this one gets killed
    const handlesBefore = tcpHandles();
    const errors: Error[] = [];
    const broker = createRedisBroker({
      url: redis.url,
      publishTimeoutMs: 300,
      onError: (e) => errors.push(e),
    });
    try {
      const got = collector('gym:1:*');
      await broker.subscribe('gym:1:*', got.handler);
      await broker.publish('gym:1:students', 'before');
      await got.waitFor(1);
      await redis.kill();
      // One publish that already timed out (node-redis keeps it queued) and one still waiting.
      await rejectsWithCode(broker.publish('gym:1:students', 'lost'), 'broker-error', 'publish');
      const pending = broker.publish('gym:1:students', 'pending');
      pending.catch(() => undefined);

      const clock = stopwatch();
      await withDeadline(broker.close(), 3_000, 'close() while Redis is down');
      clock.within(1_000, 'close()');
      await rejectsWithCode(pending, 'broker-error', 'the publish queued at close()');
      await eventually('no TCP socket left', 2_000, () => tcpHandles() <= handlesBefore, 20);
      assert.ok(errors.length >= 1, 'the lost connection was reported to onError');
    } finally {
      await withDeadline(broker.close(), 5_000, 'close()').finally(() => redis.stop());
    }
  });

  it('survives Redis being killed and restarted; publish fails fast while it is down', async (t) => {
    const redis = await startRedis(); // its own server: this one gets killed
    const errors: Error[] = [];
    const broker = createRedisBroker({
      url: redis.url,
      publishTimeoutMs: 500,
      onError: (e) => errors.push(e),
    });
    try {
      const got = collector('gym:1:*');
      await broker.subscribe('gym:1:*', got.handler);
      await broker.publish('gym:1:students', 'before');
      await got.waitFor(1);

      await redis.kill();
      const clock = stopwatch();
      await rejectsWithCode(
        broker.publish('gym:1:students', 'while down'),
        'broker-error',
        'publish while down',
      );
      clock.within(2_000, 'the publish failing while Redis was down');

      await redis.restart();
      let attempt = 0;
      let succeeded = 0;
      /** Attempts that timed out: one may have been on its way already (see below). */
      let timedOut = 0;
      const failed: string[] = [];
      await eventually(
        'a publish is delivered after the restart',
        10_000,
        async () => {
          // An attempt while the client is still reconnecting may fail too (and is retried).
          const at = Date.now();
          await broker.publish('gym:1:students', `after ${attempt++}`).catch((err: unknown) => {
            failed.push(`${attempt - 1} after ${Date.now() - at} ms: ${String(err)}`);
            if (err instanceof EventrailError && err.message.includes('did not answer')) timedOut++;
            throw err;
          });
          succeeded++;
          await sleep(50);
          return got.messages.some((m) => m.payload.startsWith('after '));
        },
        200,
      );
      await sleep(QUIET_MS);
      // The restarted server counts from zero. It ran every publish reported as done, and none
      // reported as failed, except one that timed out while already on its way (written as the
      // client reconnected, answered after the deadline): that one runs once, as the README says.
      // The publish made while Redis was down was withdrawn: it never runs.
      const stats = String(await redisCommand(redis.port, 'INFO', 'commandstats'));
      const ran = Number(/cmdstat_publish:calls=(\d+)/.exec(stats)?.[1] ?? 0);
      assert.ok(
        ran >= succeeded && ran <= succeeded + timedOut,
        `Redis ran ${ran} publishes, ${succeeded} reported done, ${timedOut} timed out (failed: ${failed.join('; ') || 'none'})`,
      );
      assert.ok(!got.messages.some((m) => m.payload === 'while down'));
      assert.ok(errors.length >= 1, 'connection errors are reported to onError');
      for (const error of errors) assert.ok(error instanceof Error);
      t.diagnostic(
        `onError calls: ${errors.length}; publishes after the restart: ${attempt}, ${succeeded} reported done; delivered: ${got.messages.map((m) => m.payload).join(', ')}`,
      );
    } finally {
      await withDeadline(broker.close(), 5_000, 'close()').finally(() => redis.stop());
    }
  });
});
