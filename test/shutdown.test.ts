import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { startRedisApp } from './helpers/apps.js';
import { findFreePort, type RedisProcess, redisSkipReason, startRedis } from './helpers/redis.js';
import { openRaw, openSource, sleep, waitFor } from './helpers/sse.js';
import { stopwatch } from './helpers/stopwatch.js';

/** Runs a TypeScript file the way `npm run` does and resolves with its exit code and output. */
function runToExit(file: string, env: Record<string, string>, timeoutMs: number) {
  const child = spawn(process.execPath, ['--conditions=eventrail-src', '--import', 'tsx', file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${file} did not exit within ${timeoutMs} ms (a handle was left open?):\n${output}`,
        ),
      );
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** Starts the basic example on a free port and resolves with its URL. */
async function startBasic(env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    ['--conditions=eventrail-src', '--import', 'tsx', 'examples/basic/server.ts'],
    {
      env: { ...process.env, PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stderr.on('data', (d) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`basic example did not start:\n${output}`)),
      15_000,
    );
    child.stdout.on('data', (d) => {
      output += d;
      const match = /http:\/\/localhost:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(`http://127.0.0.1:${match[1]}`);
      }
    });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, url, exited, output: () => output };
}

describe('shutdown', { skip: redisSkipReason() }, () => {
  let redis: RedisProcess;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it('after close() and broker.close() the process exits by itself', async () => {
    const { code, output } = await runToExit(
      'test/fixtures/close-and-exit.ts',
      { REDIS_URL: redis.url },
      15_000,
    );
    assert.equal(code, 0, output);
    assert.match(output, /closed/);
  });

  it('close() while Redis never answered: the waiting stream is answered at once, no handle is left', async () => {
    const port = await findFreePort(); // nothing listens there
    const { code, output } = await runToExit(
      'test/fixtures/close-during-outage.ts',
      { REDIS_URL: `redis://127.0.0.1:${port}` },
      15_000,
    );
    assert.equal(code, 0, output);
    const match = /closed in (\d+) ms: "(.*)"/.exec(output);
    assert.ok(match, output);
    assert.ok(Number(match[1]) < 1_000, `close() took ${match[1]} ms`);
    assert.match(match[2] ?? '', /^retry: \d+\\n\\n$/, 'the waiting stream was told to retry');
  });

  it('close() while Redis is down ends within the publish timeout, streams included', async () => {
    const own = await startRedis(); // this test stops it
    const app = await startRedisApp({ url: own.url, publishTimeoutMs: 500 });
    try {
      const stream = await openRaw(`${app.url}/events?scope=1`);
      await waitFor(() => stream.events.length === 1, 'stream open'); // its hub is subscribed
      await own.stop();
      const clock = stopwatch();
      await app.stop(); // then broker.close(); PUNSUBSCRIBE cannot be answered: no waiting for Redis
      await stream.ended;
      clock.within(2_000, 'close');
    } finally {
      await own.stop();
    }
  });

  it('the basic example with TRACE=console prints a publish span and its delivery, one trace', async () => {
    const app = await startBasic({ REDIS_URL: redis.url, TRACE: 'console' });
    try {
      const client = openSource(`${app.url}/events?scope=7`, ['app.students.changed']);
      await client.opened;
      const published = await fetch(`${app.url}/publish?scope=7&type=students.changed`);
      assert.equal(published.status, 202);
      await published.text();
      await waitFor(() => client.events.length === 1, 'the event');
      await waitFor(() => /name: 'deliver scope'/.test(app.output()), 'the spans printed');
      // ConsoleSpanExporter prints one object per span: find each one's name, trace and parent.
      const spans = app
        .output()
        .split(/\n(?=\{\n)/)
        .map((block) => ({
          name: /\n {2}name: '([^']+)'/.exec(block)?.[1],
          id: /\n {2}id: '([0-9a-f]{16})'/.exec(block)?.[1],
          traceId: /\n {2}traceId: '([0-9a-f]{32})'/.exec(block)?.[1],
          parent: /parentSpanContext: \{[^}]*spanId: '([0-9a-f]{16})'/.exec(block)?.[1],
        }));
      const publish = spans.find((span) => span.name === 'publish scope');
      const deliver = spans.find((span) => span.name === 'deliver scope');
      assert.ok(publish?.id && deliver, app.output());
      assert.equal(deliver.traceId, publish.traceId);
      assert.equal(deliver.parent, publish.id);
      client.close();
    } finally {
      app.child.kill('SIGKILL');
    }
  });

  for (const broker of ['memory', 'redis'] as const) {
    it(`the basic example (${broker} broker) keeps its HTTP contract and stops on SIGTERM`, async () => {
      const app = await startBasic(broker === 'redis' ? { REDIS_URL: redis.url } : {});
      try {
        const names = ['app.students.changed', 'app.demo.ping'];
        const one = openSource(`${app.url}/events?scope=1`, names);
        const two = openSource(`${app.url}/events?scope=2`, names);
        const byDefault = openSource(`${app.url}/events`, names);
        await Promise.all([one.opened, two.opened, byDefault.opened]);
        for (const bad of ['x', '0', '-1', '1.5', '1234567890']) {
          assert.equal((await fetch(`${app.url}/events?scope=${bad}`)).status, 401, `scope=${bad}`);
        }
        const data = encodeURIComponent('{"id":1}');
        const published = await fetch(
          `${app.url}/publish?scope=1&type=students.changed&data=${data}`,
        );
        assert.equal(published.status, 202);
        assert.equal(
          (await fetch(`${app.url}/publish?scope=1&data=hello`, { method: 'POST' })).status,
          202,
        );
        assert.equal((await fetch(`${app.url}/publish?scope=abc`)).status, 400);
        assert.equal(
          (await fetch(`${app.url}/publish?scope=1&type=${encodeURIComponent('a\nb')}`)).status,
          400,
        );
        assert.equal((await fetch(`${app.url}/publish?scope=1`, { method: 'DELETE' })).status, 404);
        await waitFor(
          () => one.events.length === 2 && byDefault.events.length === 2,
          'two events on scope 1',
        );
        assert.deepEqual(
          one.events.map((e) => [e.name, e.data]),
          [
            ['app.students.changed', '{"id":1}'],
            ['app.demo.ping', '"hello"'],
          ],
        );
        await sleep(100);
        assert.equal(two.events.length, 0);
        for (const c of [one, two, byDefault]) c.close();

        const stream = await openRaw(`${app.url}/events?scope=1`);
        await waitFor(() => stream.events.length === 1, 'stream open');
        app.child.kill('SIGTERM');
        await stream.ended;
        assert.equal(await app.exited, 0, app.output());
      } finally {
        app.child.kill('SIGKILL');
      }
    });
  }
});
