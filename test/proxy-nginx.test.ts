/**
 * eventrail behind nginx (Debian's, started here on free ports with docs/proxies.md's
 * `eventrail.conf`: helpers/nginx.ts) in front of two instances of examples/node-http on one
 * Redis: events stream through it over HTTP/1.1 and over HTTP/2 with TLS, a client resumes through
 * it with Last-Event-ID, and a client whose instance stops comes back through it to the other one
 * and gets what it missed. The snippet's read timeout is checked against the heartbeat's default.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import type { EventSourceMessage } from 'eventsource-parser';
import { createParser } from 'eventsource-parser';
import { DEFAULTS } from '../src/options.js';
import { type RunningExample, startExample } from './helpers/examples.js';
import {
  documentedConfig,
  type NginxProcess,
  nginxSkipReason,
  startNginx,
} from './helpers/nginx.js';
import { type RedisProcess, redisSkipReason, startRedis } from './helpers/redis.js';
import { openRaw, type RawStream, waitFor } from './helpers/sse.js';

/**
 * The instances' heartbeat: nginx's read timeout is scaled from the documented pair (30 s against
 * 120 s) to this one (1 s against 4 s), see helpers/nginx.ts.
 */
const HEARTBEAT_MS = 1_000;

const portOf = (app: RunningExample) => Number(new URL(app.url).port);
const changes = (stream: { events: EventSourceMessage[] }) =>
  stream.events.filter((e) => e.event === 'app.students.changed').map((e) => e.data);

async function publish(base: string, scope: number, data: string): Promise<void> {
  const answer = await fetch(`${base}/publish?scope=${scope}&type=students.changed&data=${data}`);
  assert.equal(answer.status, 202, await answer.text());
}

async function connections(app: RunningExample): Promise<number> {
  const answer = await fetch(`${app.url}/stats`);
  return ((await answer.json()) as { connections: number }).connections;
}

describe('docs/proxies.md: eventrail.conf', () => {
  it('reads from the upstream for longer than the heartbeat, unbuffered, over HTTP/1.1', () => {
    const config = documentedConfig();
    const events = /location \/events \{([\s\S]*?)\n {4}\}/.exec(config)?.[1] ?? '';
    const timeout = /proxy_read_timeout (\d+)s;/.exec(events)?.[1];
    assert.ok(timeout, 'a proxy_read_timeout in seconds for /events');
    assert.ok(Number(timeout) * 1000 >= 2 * DEFAULTS.heartbeatMs, 'twice the heartbeat at least');
    for (const line of ['proxy_buffering off;', 'proxy_http_version 1.1;', 'Connection "";'])
      assert.ok(events.includes(line), line);
  });
});

describe('through nginx, two instances on one Redis', {
  skip: nginxSkipReason() ?? redisSkipReason(),
}, () => {
  let redis: RedisProcess;
  let instances: RunningExample[];
  let nginx: NginxProcess;
  before(async () => {
    redis = await startRedis();
    instances = await Promise.all(
      [1, 2].map(() =>
        startExample('examples/node-http/server.ts', {
          REDIS_URL: redis.url,
          HEARTBEAT_MS: String(HEARTBEAT_MS),
        }),
      ),
    );
    nginx = await startNginx(
      [portOf(instances[0] as RunningExample), portOf(instances[1] as RunningExample)],
      HEARTBEAT_MS,
    );
  });
  after(async () => {
    await nginx?.stop();
    await Promise.all((instances ?? []).map((app) => app.stop()));
    await redis?.stop();
  });

  it('HTTP/1.1: streams each event as it is published, with the SSE headers', async () => {
    const stream = await openRaw(`${nginx.http}/events?scope=1`);
    try {
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
      await waitFor(() => stream.events.length > 0, 'the connected event through nginx');
      for (const n of ['1', '2']) {
        await publish(nginx.http, 1, n);
        await waitFor(() => changes(stream).includes(n), `event ${n} through nginx`);
      }
    } catch (err) {
      throw new Error(`${String(err)}\n--- nginx ---\n${nginx.log()}`, { cause: err });
    } finally {
      stream.abort();
    }
  });

  it('a stream quiet for longer than the read timeout lives on its heartbeat', async () => {
    const stream = await openRaw(`${nginx.http}/events?scope=4`);
    let ended = false;
    void stream.ended.then(() => {
      ended = true;
    });
    try {
      await waitFor(() => stream.events.length > 0, 'the connected event');
      // Quiet for 2.5 read timeouts (10 s): only heartbeats cross nginx meanwhile.
      const heartbeats = () => stream.text.split(': ping').length - 1;
      await waitFor(() => ended || heartbeats() >= 10, 'ten heartbeats', 60_000);
      assert.ok(!ended, `nginx cut the quiet stream:\n${nginx.log()}`);
      await publish(nginx.http, 4, '1');
      await waitFor(() => ended || changes(stream).includes('1'), 'the event after the quiet');
      assert.ok(!ended, 'the stream is still open');
    } finally {
      stream.abort();
    }
  });

  it('HTTP/2 over TLS: streams each event as it is published', async () => {
    const session = http2.connect(nginx.https, { ca: nginx.cert });
    try {
      const stream = { status: 0, events: [] as EventSourceMessage[] };
      const request = session.request({ ':path': '/events?scope=2' });
      const parser = createParser({ onEvent: (event) => stream.events.push(event) });
      request.setEncoding('utf8');
      request.on('response', (headers) => {
        stream.status = Number(headers[':status']);
      });
      request.on('data', (chunk: string) => parser.feed(chunk));
      await waitFor(() => stream.events.length > 0, 'the connected event over HTTP/2');
      assert.equal(session.alpnProtocol, 'h2');
      assert.equal(stream.status, 200);
      for (const n of ['1', '2']) {
        await publish(nginx.http, 2, n);
        await waitFor(() => changes(stream).includes(n), `event ${n} over HTTP/2`);
      }
      request.close();
    } finally {
      session.destroy();
    }
  });

  it('resumes with Last-Event-ID through nginx, and survives the instance it was on stopping', async () => {
    const first = await openRaw(`${nginx.http}/events?scope=3`);
    let again: RawStream | undefined;
    try {
      await waitFor(() => first.events.length > 0, 'the connected event');
      await publish(nginx.http, 3, '1');
      await waitFor(() => changes(first).includes('1'), 'event 1');
      const lastId = first.events.at(-1)?.id;
      assert.ok(lastId, 'events carry ids');
      // The instance the stream is on stops gracefully: it ends the stream, nginx passes that on.
      const counts = await Promise.all(instances.map(connections));
      const serving = instances[counts.indexOf(1)];
      assert.ok(serving, `one instance holds the stream: ${counts}`);
      serving.child.kill('SIGTERM');
      await first.ended;
      assert.equal(await serving.exited, 0);
      // Published while the client is away, through nginx: the other instance takes it.
      await publish(nginx.http, 3, '2');
      await publish(nginx.http, 3, '3');
      again = await openRaw(`${nginx.http}/events?scope=3`, {
        headers: { 'Last-Event-ID': lastId },
      });
      assert.equal(again.status, 200);
      const resumed = again;
      await waitFor(() => changes(resumed).length >= 2, 'the missed events through nginx');
      assert.deepEqual(changes(resumed), ['2', '3']);
      assert.ok(!resumed.events.some((e) => e.event === 'eventrail.resync'), 'no resync');
    } catch (err) {
      throw new Error(`${String(err)}\n--- nginx ---\n${nginx.log()}`, { cause: err });
    } finally {
      first.abort();
      again?.abort();
    }
  });
});
