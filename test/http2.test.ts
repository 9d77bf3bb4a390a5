/**
 * HTTP/2: browsers allow only six HTTP/1.1 connections per origin, so a seventh SSE tab stalls;
 * over HTTP/2 every tab's stream shares one connection. eventrail's node:http handler is mounted
 * through node:http2's compatibility API on a TLS server (certificate made here, by openssl) that
 * refuses HTTP/1.1, and one client opens ten streams on one session.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createSseServer, type SseServer } from '../src/index.js';
import { missingTool } from './helpers/ci.js';
import { waitFor } from './helpers/sse.js';

const STREAMS = 10;

/** A self-signed certificate for localhost and 127.0.0.1, or why there is none. */
function selfSigned(): { key: Buffer; cert: Buffer } | string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eventrail-h2-'));
  try {
    const result = spawnSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'],
        ...['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
        ...['-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 },
    );
    if (result.error || result.status !== 0)
      return `openssl could not make a certificate: ${result.error?.message ?? result.stderr}`;
    return {
      key: readFileSync(path.join(dir, 'key.pem')),
      cert: readFileSync(path.join(dir, 'cert.pem')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const tls = selfSigned();
// Without a certificate the tests skip loudly, and fail under CI.
if (typeof tls === 'string')
  missingTool('openssl', tls, 'Install openssl (`apt-get install openssl`).');

/** One SSE stream read from an HTTP/2 client stream. */
interface H2Stream {
  status: number | undefined;
  contentType: string | undefined;
  readonly events: EventSourceMessage[];
  /** The server ended the stream cleanly (END_STREAM, not a reset). */
  ended: boolean;
  closed: boolean;
  readonly request: http2.ClientHttp2Stream;
}

function openStream(client: http2.ClientHttp2Session, url: string): H2Stream {
  const request = client.request({ ':path': url });
  const stream: H2Stream = {
    status: undefined,
    contentType: undefined,
    events: [],
    ended: false,
    closed: false,
    request,
  };
  const parser = createParser({ onEvent: (event) => stream.events.push(event) });
  request.on('response', (headers) => {
    stream.status = headers[':status'];
    stream.contentType = String(headers['content-type']);
  });
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => parser.feed(chunk));
  request.on('end', () => {
    stream.ended = true;
  });
  request.on('close', () => {
    stream.closed = true;
  });
  request.on('error', () => {}); // a stream we reset ourselves
  return stream;
}

describe('HTTP/2 (node:http2 compatibility API, TLS, no HTTP/1.1)', {
  skip: typeof tls === 'string' ? tls : undefined,
}, () => {
  const errors: unknown[] = [];
  let sessions = 0;
  const hosts = new Set<string>();
  let port = 0;
  let sse: SseServer;
  let server: http2.Http2SecureServer;
  let client: http2.ClientHttp2Session;

  before(async () => {
    if (typeof tls === 'string') return;
    sse = createSseServer({
      broker: createMemoryBroker(),
      eventNamePrefix: 'app',
      resolver: (request) => {
        hosts.add(request.url.host);
        return { userId: 1, scopeId: request.url.searchParams.get('scope') ?? '1' };
      },
      router: (principal) => [`scope:${principal.scopeId}:*`],
      hooks: { onError: (error) => errors.push(error) },
    });
    server = http2.createSecureServer({ ...tls, allowHTTP1: false }, (req, res) => {
      sse.handler(req, res).catch((error: unknown) => errors.push(error));
    });
    server.on('session', () => sessions++);
    server.on('sessionError', (error) => errors.push(error));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    ({ port } = server.address() as AddressInfo);
    client = http2.connect(`https://127.0.0.1:${port}`, { ca: tls.cert, servername: 'localhost' });
    client.on('error', (error) => errors.push(error));
  });

  after(async () => {
    client?.destroy();
    await sse?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  it(`serves ${STREAMS} concurrent streams on one session, releases them and ends them`, async () => {
    const streams = Array.from({ length: STREAMS }, () => openStream(client, '/events?scope=1'));
    const other = openStream(client, '/events?scope=2');
    const all = [...streams, other];
    await waitFor(
      () => all.every((s) => s.events.some((e) => e.event === 'eventrail.connected')),
      'every stream to be connected',
    );
    for (const stream of all) {
      assert.equal(stream.status, 200);
      assert.match(stream.contentType ?? '', /^text\/event-stream/);
    }
    assert.equal(sessions, 1, 'one TCP connection for every stream');
    assert.equal(sse.stats().connections, STREAMS + 1);
    // HTTP/2 carries the host in :authority; the resolver must see it, not a made-up localhost.
    // (Without it the URL would fall back to a bare `localhost`, with no port.)
    assert.equal(hosts.size, 1);
    assert.ok([...hosts][0]?.endsWith(`:${port}`), `the resolver saw ${[...hosts].join()}`);

    await sse.publisher.publishEvent('scope:1:demo', { eventType: 'demo.ping', data: { n: 1 } });
    await waitFor(
      () => streams.every((s) => s.events.some((e) => e.event === 'app.demo.ping')),
      'the event on every stream',
    );
    for (const stream of streams) {
      assert.deepEqual(
        stream.events.filter((e) => e.event === 'app.demo.ping').map((e) => e.data),
        ['{"n":1}'],
      );
    }
    assert.equal(other.events.filter((e) => e.event === 'app.demo.ping').length, 0);

    // The client resets half of the streams: each one's connection is released.
    for (const stream of streams.slice(0, STREAMS / 2))
      stream.request.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => sse.stats().connections === STREAMS / 2 + 1, 'released connections');

    // Shutdown ends the others cleanly, and the session stays usable.
    const open = [...streams.slice(STREAMS / 2), other];
    assert.ok(open.every((s) => !s.closed));
    await sse.close();
    await waitFor(() => open.every((s) => s.ended && s.closed), 'every open stream to end');
    assert.equal(sse.stats().connections, 0);
    assert.equal(client.closed || client.destroyed, false, 'the session survives its streams');
    assert.equal(sessions, 1);
    assert.deepEqual(errors, []);
  });
});
