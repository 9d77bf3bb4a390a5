/**
 * The README's runnable blocks, as written, against a real Redis this test starts: the Quick start
 * (with a stub of the app's sessions and data) serves streams and publishes from its request
 * handler; the worker publishes and exits by itself, as `timeout 15 node worker.mjs` would see it;
 * the htmx page, served as it is with no bundler, htmx from its own `<script>` and the client from
 * `clientFiles()`, refreshes its list in Chromium when an event is published.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type Broker,
  clientFiles,
  createSseServer,
  ORIGIN_HEADER,
  type SseServer,
} from 'eventrail';
import { createRedisBroker } from 'eventrail/redis';
import { bundleClient } from '../scripts/bundle-client.js';
import { chromiumSkipReason } from './e2e/browser.js';
import { type PageRig, startPageRig } from './e2e/page-rig.js';
import { APP_STUB, blockFolder, namedBlock } from './helpers/doc-blocks.js';
import {
  connectRaw,
  findFreePort,
  type RedisProcess,
  redisSkipReason,
  startRedis,
} from './helpers/redis.js';
import { openRaw, type RawStream, waitFor } from './helpers/sse.js';

const redisSkip = redisSkipReason();
const require = createRequire(import.meta.url);

/** Runs `file` as `node` would (on src/ through the eventrail-src condition), killed after `killMs`. */
function runNode(
  file: string,
  env: Record<string, string>,
  killMs: number,
): {
  child: ChildProcess;
  exit: Promise<{ code: number | null; signal: string | null; output: string }>;
} {
  const child = spawn(process.execPath, ['--conditions=eventrail-src', '--import', 'tsx', file], {
    cwd: path.dirname(file),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const record = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
  };
  child.stdout?.on('data', record);
  child.stderr?.on('data', record);
  // What `timeout 15` does: SIGTERM when the time is up.
  const timer = setTimeout(() => child.kill('SIGTERM'), killMs);
  const exit = new Promise<{ code: number | null; signal: string | null; output: string }>(
    (resolve) =>
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, output });
      }),
  );
  return { child, exit };
}

describe("the README's code, run against Redis", { skip: redisSkip }, () => {
  let redis: RedisProcess;
  const folder = blockFolder();
  const children: ChildProcess[] = [];

  before(async () => {
    redis = await startRedis();
    folder.write('app.ts', APP_STUB);
  });
  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    folder.remove();
    await redis?.stop();
  });

  test('worker.mjs publishes its event and exits 0 by itself within 15 s', async () => {
    const file = folder.write('worker.mjs', namedBlock('README.md', 'worker.mjs').code);
    const subscriber = await connectRaw(redis.port);
    const received: string[] = [];
    subscriber.onMessage((message) => received.push(`${message.channel} ${message.payload}`));
    await subscriber.command('PSUBSCRIBE', 'gym:1:*');
    try {
      const { child, exit } = runNode(file, { REDIS_URL: redis.url }, 15_000);
      children.push(child);
      const { code, signal, output } = await exit;
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, `worker.mjs:\n${output}`);
      await waitFor(() => received.length > 0, 'the worker’s event on gym:1:*');
      assert.match(received[0] ?? '', /^gym:1:plans \{"event_type":"plans\.changed","data":\{\}/);
    } finally {
      await subscriber.close();
    }
  });

  test('quick-start.ts streams to a session and publishes from its POST handler', async () => {
    const file = folder.write('quick-start.ts', namedBlock('README.md', 'quick-start.ts').code);
    const port = await findFreePort();
    const { child, exit } = runNode(file, { REDIS_URL: redis.url, PORT: String(port) }, 120_000);
    children.push(child);
    const base = `http://127.0.0.1:${port}`;
    const exited = exit.then(({ output }) => {
      throw new Error(`quick-start.ts exited:\n${output}`);
    });
    exited.catch(() => {});
    // Up once it answers: a stream without a session is refused.
    await waitFor(
      () =>
        Promise.race([
          exited,
          fetch(`${base}/events`).then(
            (r) => r.status === 401,
            () => false,
          ),
        ]),
      'the Quick start to answer 401 without a session',
      30_000,
    );
    const streams: RawStream[] = [];
    const open = async (cookie: string): Promise<RawStream> => {
      const stream = await openRaw(`${base}/events`, { headers: { cookie } });
      streams.push(stream);
      assert.equal(stream.status, 200, cookie);
      await waitFor(() => stream.events.length > 0, `${cookie}: eventrail.connected`);
      return stream;
    };
    try {
      const alice = await open('session=alice.1');
      const bob = await open('session=bob.1');
      const carol = await open('session=carol.2');
      const { connectionId } = JSON.parse(alice.events[0]?.data ?? '{}') as {
        connectionId: string;
      };
      // Alice's tab makes the change: Bob (same gym) is told, Alice's tab and gym 2 are not.
      const posted = await fetch(`${base}/students`, {
        method: 'POST',
        headers: { cookie: 'session=alice.1', [ORIGIN_HEADER]: connectionId },
      });
      assert.equal(posted.status, 204);
      await waitFor(
        () => bob.events.some((e) => e.event === 'app.students.changed'),
        'app.students.changed at Bob',
      );
      assert.equal(JSON.parse(bob.events.at(-1)?.data ?? '{}').id, 1);
      // One more event all of gym 1 receives, so that Alice's and Carol's streams are known current.
      await fetch(`${base}/students`, { method: 'POST', headers: { cookie: 'session=bob.1' } });
      await waitFor(() => alice.events.length > 1, 'Bob’s change at Alice');
      assert.deepEqual(
        alice.events.map((e) => JSON.parse(e.data).id ?? e.event),
        ['eventrail.connected', 2],
      );
      assert.deepEqual(
        carol.events.map((e) => e.event),
        ['eventrail.connected'],
      );
      const refused = await fetch(`${base}/students`, { method: 'POST' });
      assert.equal(refused.status, 401);
    } finally {
      for (const stream of streams) stream.abort();
      child.kill('SIGKILL');
    }
  });
});

describe("the README's htmx page, in Chromium", { skip: redisSkip ?? chromiumSkipReason() }, () => {
  let redis: RedisProcess;
  let sse: SseServer;
  let broker: Broker;
  let rig: PageRig | undefined;
  let dir = '';
  let students = 0;

  before(async () => {
    redis = await startRedis();
    // What `npm run build` writes to dist/browser/ (the suite runs on src/, without a build).
    dir = await mkdtemp(path.join(tmpdir(), 'eventrail-client-'));
    for (const [file, bytes] of await bundleClient()) await writeFile(path.join(dir, file), bytes);
    const page = namedBlock('README.md', 'page.html').code;
    const htmx = await readFile(require.resolve('htmx.org/dist/htmx.min.js'));
    const client = clientFiles({ dir });
    broker = createRedisBroker({ url: redis.url });
    sse = createSseServer({
      broker,
      resolver: () => ({ userId: 'alice', scopeId: 1 }),
      router: (principal) => [`gym:${principal.scopeId}:*`],
      eventNamePrefix: 'app',
    });
    rig = await startPageRig(async (req, res) => {
      if (req.url?.startsWith('/events')) return void sse.handler(req, res);
      if (await client.handler(req, res)) return;
      if (req.url === '/') {
        // The block is a template: the page carries the position it was rendered at.
        const position = (await sse.lastEventId(req)) ?? '';
        res
          .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
          .end(page.replace('{{ lastEventId }}', position));
      } else if (req.url === '/htmx.min.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' }).end(htmx);
      } else if (req.url === '/favicon.ico') {
        res.writeHead(204).end();
      } else if (req.url === '/students/fragment') {
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<p>${students} students</p>`);
      } else {
        res.writeHead(404).end();
      }
    });
  });
  after(async () => {
    await rig?.stop();
    await sse?.close();
    await broker?.close();
    await redis?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('served as written, its list refreshes when an event is published', async () => {
    if (!rig) throw new Error('no page rig');
    const tab = await rig.browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(error.message));
    tab.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    await tab.goto(`${rig.base}/`);
    const list = tab.locator('#students-list');
    const shows = (text: string) => async () => ((await list.textContent()) ?? '').includes(text);
    await waitFor(shows('0 students'), `the list loaded (${errors.join('; ')})`, 15_000);
    await waitFor(
      () => sse.stats().connections === 1,
      `the page's stream (${errors.join('; ')})`,
      15_000,
    );
    students = 3;
    await sse.publisher.publishEvent('gym:1:students', { eventType: 'students.changed' });
    await waitFor(shows('3 students'), `the list refreshed (${errors.join('; ')})`, 15_000);
    assert.deepEqual(errors, []);
    await tab.close();
  });
});
