/**
 * eventrail on Bun and Deno (pinned in scripts/runtimes.sh, installed into .runtimes/) with
 * node-redis and a real Redis: the node:http handler (examples/node-http) and the runtime's own
 * fetch server (examples/bun on `Bun.serve`, examples/deno on `Deno.serve`) each pass the HTTP
 * contract that every framework example passes on node (helpers/example-contract.ts, graceful
 * SIGTERM included), then, as two instances on one Redis: a stream quiet for longer than Bun's
 * default idle timeout (10 s) lives on its heartbeat and gets an event published on the other
 * instance; a client that reconnects to the other instance with Last-Event-ID gets exactly what
 * it missed. docs/runtimes.md says what differs per runtime.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { exampleContract } from './helpers/example-contract.js';
import { type RunningExample, startExample } from './helpers/examples.js';
import { type RedisProcess, redisSkipReason, startRedis } from './helpers/redis.js';
import { BUN, DENO, NODE, type Runtime, runtimeSkipReason } from './helpers/runtimes.js';
import { openRaw, type RawStream, sleep, waitFor } from './helpers/sse.js';

/** Over Bun's default idle timeout (10 s), under the heartbeat default (30 s). */
const HEARTBEAT_MS = 12_000;
const BUN_IDLE_TIMEOUT_MS = 10_000;

async function publish(app: RunningExample, query: string): Promise<void> {
  const answer = await fetch(`${app.url}/publish?${query}`, { method: 'POST' });
  assert.equal(answer.status, 202, await answer.text());
}

/** Whether the stream ended (the server or something between cut it). */
function watchEnd(stream: RawStream): () => boolean {
  let ended = false;
  void stream.ended.then(() => {
    ended = true;
  });
  return () => ended;
}

function twoInstances(runtime: Runtime, label: string, file: string): void {
  describe(`${label} on ${runtime.name}: two instances on one Redis`, { concurrency: 1 }, () => {
    let redis: RedisProcess;
    let a: RunningExample;
    let b: RunningExample;
    before(async () => {
      redis = await startRedis();
      const env = { REDIS_URL: redis.url, HEARTBEAT_MS: String(HEARTBEAT_MS) };
      [a, b] = await Promise.all([
        startExample(file, env, runtime),
        startExample(file, env, runtime),
      ]);
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await redis?.stop();
    });

    it('a stream quiet for longer than 10 s lives on its heartbeat, then gets an event from the other instance', async () => {
      const opened = Date.now();
      const stream = await openRaw(`${a.url}/events?scope=5`);
      assert.equal(stream.status, 200);
      const ended = watchEnd(stream);
      try {
        await waitFor(
          () => ended() || stream.text.includes(': ping'),
          'a heartbeat',
          HEARTBEAT_MS * 3,
        );
        assert.ok(!ended(), `the stream was cut after ${Date.now() - opened} ms:\n${a.output()}`);
        // The heartbeat came after a silence longer than Bun's default idle timeout.
        assert.ok(Date.now() - opened >= BUN_IDLE_TIMEOUT_MS, 'a silence over 10 s');
        await publish(b, 'scope=5&type=students.changed&data=5');
        await waitFor(
          () => ended() || stream.events.some((e) => e.event === 'app.students.changed'),
          'the event published on the other instance',
        );
        assert.ok(!ended(), `the stream ended:\n${a.output()}`);
      } finally {
        stream.abort();
      }
    });

    it('a client back on the other instance with Last-Event-ID gets exactly what it missed', async () => {
      const first = await openRaw(`${a.url}/events?scope=6`);
      await waitFor(() => first.events.length > 0, 'the connected event');
      await publish(b, 'scope=6&type=students.changed&data=1');
      await waitFor(() => first.events.length > 1, 'the first event');
      first.abort();
      const lastId = first.events.at(-1)?.id;
      assert.ok(lastId, 'events carry ids');
      await publish(a, 'scope=6&type=students.changed&data=2');
      await publish(b, 'scope=6&type=students.changed&data=3');
      const again = await openRaw(`${b.url}/events?scope=6`, {
        headers: { 'Last-Event-ID': lastId },
      });
      try {
        const missed = () => again.events.filter((e) => e.event !== 'eventrail.connected');
        await waitFor(() => missed().length >= 2, 'the missed events');
        await sleep(100);
        assert.deepEqual(
          missed().map((e) => [e.event, e.data]),
          [
            ['app.students.changed', '2'],
            ['app.students.changed', '3'],
          ],
        );
      } finally {
        again.abort();
      }
    });
  });
}

describe('sse.fetch and a runtime that cuts quiet streams', () => {
  const REFUSAL = 'test/fixtures/bun-fetch-refusal.ts';
  const run = (runtime: Runtime) => {
    const [command, ...args] = runtime.command(REFUSAL);
    const result = spawnSync(command as string, args, { encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as unknown;
  };

  it('on Bun: refuses a stream with code unsupported-runtime unless given the server or a heartbeat under 10 s', {
    skip: runtimeSkipReason(BUN),
  }, () => {
    assert.deepEqual(run(BUN), {
      bun: 'string',
      defaultWithout: { code: 'unsupported-runtime' },
      defaultWith: { status: 200, lifted: [0] },
      shortHeartbeatWithout: { status: 200, lifted: [] },
    });
  });

  it('on node: streams either way, and lifts the timeout of a server that has one', () => {
    assert.deepEqual(run(NODE), {
      bun: 'undefined',
      defaultWithout: { status: 200, lifted: [] },
      defaultWith: { status: 200, lifted: [0] },
      shortHeartbeatWithout: { status: 200, lifted: [] },
    });
  });
});

describe("node:http with the app's own socket timeout (server.setTimeout) under the heartbeat", () => {
  const FIXTURE = 'test/fixtures/node-http-timeout.ts';
  for (const runtime of [NODE, BUN, DENO]) {
    it(`on ${runtime.name}: a plain response is cut at the timeout, a stream quiet for three times as long is not`, {
      skip: runtimeSkipReason(runtime),
    }, () => {
      const [command, ...args] = runtime.command(FIXTURE);
      const result = spawnSync(command as string, args, { encoding: 'utf8', timeout: 120_000 });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), {
        plainCut: true,
        streamEndedWhileQuiet: false,
        gotEvent: true,
      });
    });
  }
});

for (const runtime of [BUN, DENO]) {
  describe(runtime.name, { skip: runtimeSkipReason(runtime) ?? redisSkipReason() }, () => {
    const handlers = [
      ['node-http', 'examples/node-http/server.ts'],
      [`${runtime.name} (fetch)`, `examples/${runtime.name}/server.ts`],
    ] as const;
    for (const [label, file] of handlers) {
      exampleContract(
        `${label} on ${runtime.name}`,
        (env) => startExample(file, env, runtime),
        'redis',
      );
      twoInstances(runtime, label, file);
    }
  });
}
