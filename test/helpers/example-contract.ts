/**
 * The HTTP contract of the examples (examples/shared/contract.ts) as a suite of assertions, run
 * against a started example: by test/frameworks.test.ts for every framework on node, and by
 * test/runtimes.test.ts for the node:http and fetch examples on Bun and Deno. A real EventSource
 * client, the in-memory broker or a real Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningExample } from './examples.js';
import { type RedisProcess, redisCommand, startRedis } from './redis.js';
import { openRaw, openSource, sleep, waitFor } from './sse.js';

export const NAMES = ['app.students.changed', 'app.demo.ping'];

interface Stats {
  connections: number;
  hubs: number;
}

async function stats(app: RunningExample): Promise<Stats> {
  const response = await fetch(`${app.url}/stats`);
  assert.equal(response.status, 200);
  return (await response.json()) as Stats;
}

/** Polls the example's /stats until `predicate` holds, or fails with the last answer. */
async function statsUntil(app: RunningExample, predicate: (s: Stats) => boolean, what: string) {
  const deadline = Date.now() + 5_000;
  let last = await stats(app);
  while (!predicate(last)) {
    if (Date.now() > deadline) assert.fail(`${what}: /stats still says ${JSON.stringify(last)}`);
    await sleep(25);
    last = await stats(app);
  }
}

/**
 * Subscriptions for the example's scopes that the Redis server holds right now: every pattern
 * (scopes are `PSUBSCRIBE scope:<n>:*`) plus exact `scope:` channels, leaving out the broker's own
 * channels (its liveness probe).
 */
async function redisSubscriptions(redis: RedisProcess): Promise<number> {
  const patterns = await redisCommand(redis.port, 'PUBSUB', 'NUMPAT');
  const channels = await redisCommand(redis.port, 'PUBSUB', 'CHANNELS', 'scope:*');
  return Number(patterns) + (Array.isArray(channels) ? channels.length : 0);
}

/** Polls Redis until it holds no subscription (an UNSUBSCRIBE lands after the hub is gone). */
async function redisUnsubscribed(redis: RedisProcess, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  let count = await redisSubscriptions(redis);
  while (count !== 0) {
    if (Date.now() > deadline) assert.fail(`${what}: Redis still holds ${count} subscriptions`);
    await sleep(25);
    count = await redisSubscriptions(redis);
  }
}

/** `promise`, or a failure naming `what` after 10 s (a hang must not wait for the test timeout). */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after 10 s waiting for ${what}`)), 10_000);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function publish(app: RunningExample, query: string, method = 'GET'): Promise<Response> {
  return fetch(`${app.url}/publish?${query}`, { method });
}

/**
 * The HTTP contract every example honours (examples/shared/contract.ts), as one `describe` named
 * `label (<broker> broker)`: `start` runs the example with the environment it is given (PORT=0, the
 * broker's, HUB_IDLE_TIMEOUT_MS=100), on whatever runtime it picks.
 */
export function exampleContract(
  label: string,
  start: (env: Record<string, string>) => Promise<RunningExample>,
  broker: 'memory' | 'redis',
): void {
  describe(`${label} (${broker} broker)`, { concurrency: 1 }, () => {
    let redis: RedisProcess | undefined;
    let app: RunningExample;
    before(async () => {
      if (broker === 'redis') redis = await startRedis();
      const env: Record<string, string> = { HUB_IDLE_TIMEOUT_MS: '100' };
      if (redis) env.REDIS_URL = redis.url;
      app = await start(env);
    });
    after(async () => {
      await app?.stop();
      await redis?.stop();
    });

    it('delivers events with their names and data, and only to their scope', async () => {
      const one = openSource(`${app.url}/events?scope=1`, NAMES);
      const byDefault = openSource(`${app.url}/events`, NAMES);
      const two = openSource(`${app.url}/events?scope=2`, NAMES);
      try {
        await Promise.all([one.opened, byDefault.opened, two.opened]);
        const data = encodeURIComponent('{"id":1}');
        assert.equal(
          (await publish(app, `scope=1&type=students.changed&data=${data}`)).status,
          202,
        );
        assert.equal((await publish(app, 'scope=1&data=hello', 'POST')).status, 202);
        // Published last: once scope 2 has it, anything of scope 1 would have arrived too.
        assert.equal((await publish(app, 'scope=2&data=2')).status, 202);
        const expected = [
          ['app.students.changed', '{"id":1}'],
          ['app.demo.ping', '"hello"'],
        ];
        await waitFor(() => two.events.length > 0 && one.events.length >= 2, 'the events');
        await sleep(50);
        assert.deepEqual(
          one.events.map((e) => [e.name, e.data]),
          expected,
        );
        assert.deepEqual(
          byDefault.events.map((e) => [e.name, e.data]),
          expected,
        );
        assert.deepEqual(
          two.events.map((e) => [e.name, e.data]),
          [['app.demo.ping', '2']],
        );
      } finally {
        for (const source of [one, byDefault, two]) source.close();
      }
    });

    it('refuses a scope that is not a positive integer of at most 9 digits with 401', async () => {
      for (const bad of ['x', '0', '01', '-1', '1.5', '', '1234567890']) {
        const response = await fetch(`${app.url}/events?scope=${bad}`);
        assert.equal(response.status, 401, `scope=${bad}`);
        await response.body?.cancel();
      }
      assert.equal((await fetch(`${app.url}/events`, { method: 'POST' })).status, 405);
      assert.equal((await fetch(`${app.url}/nowhere`)).status, 404);
    });

    it('publish answers 202, 400 on bad input, 404 for other methods', async () => {
      assert.equal((await publish(app, 'scope=3', 'POST')).status, 202);
      const response = await publish(app, 'scope=3&type=a.b&data=%7B%7D');
      assert.equal(response.status, 202);
      assert.deepEqual(await response.json(), { channel: 'scope:3:demo', eventType: 'a.b' });
      assert.equal((await publish(app, 'scope=abc')).status, 400);
      assert.equal((await publish(app, 'scope=0', 'POST')).status, 400);
      assert.equal((await publish(app, `scope=1&type=${encodeURIComponent('a\nb')}`)).status, 400);
      assert.equal((await publish(app, 'scope=1&type=a%2Ab')).status, 202); // * is fine in a type
      assert.equal((await publish(app, 'scope=1', 'DELETE')).status, 404);
    });

    it('a client disconnect releases its connection, then its subscription', async () => {
      await statsUntil(app, (s) => s.connections === 0 && s.hubs === 0, 'idle before the test');
      if (redis) await redisUnsubscribed(redis, 'idle before the test');
      const source = openSource(`${app.url}/events?scope=4`, NAMES);
      await source.opened;
      assert.deepEqual(await stats(app), { connections: 1, hubs: 1 });
      if (redis) assert.ok((await redisSubscriptions(redis)) >= 1, 'subscribed on Redis');
      source.close();
      await statsUntil(app, (s) => s.connections === 0, 'connection released');
      // HUB_IDLE_TIMEOUT_MS=100: the scope's subscription goes soon after its last client.
      await statsUntil(app, (s) => s.hubs === 0, 'subscription released');
      if (redis) await redisUnsubscribed(redis, 'unsubscribed on Redis');
    });

    it('SIGTERM ends open streams and the process exits with 0', async () => {
      const stream = await openRaw(`${app.url}/events?scope=1`);
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(stream.headers.get('cache-control'), 'no-cache, no-transform');
      const source = openSource(`${app.url}/events?scope=1`, NAMES);
      await source.opened;
      await statsUntil(app, (s) => s.connections === 2, 'two streams');
      app.child.kill('SIGTERM');
      await within(stream.ended, 'the open stream to end');
      assert.equal(await within(app.exited, 'the process to exit'), 0, app.output());
      source.close();
    });
  });
}
