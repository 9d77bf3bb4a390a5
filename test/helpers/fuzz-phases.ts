/** The phases of test/fuzz.test.ts: requests by fetch and by socket, publishes, broker bytes. */
import assert from 'node:assert/strict';
import { EventrailError } from '../../src/errors.js';
import type { PublishableEvent } from '../../src/types.js';
import * as req from './fuzz-requests.js';
import { answer, type Fuzz } from './fuzz-rig.js';
import { publishCase, randomBytes } from './fuzz-values.js';
import { connectBytePublisher, rawHttp } from './raw-wire.js';
import { int, pick, type Random, SECRET } from './tenants.js';

const FETCH_METHODS = ['GET', 'GET', 'GET', 'get', 'Get', 'POST', 'PUT', 'DELETE', 'PATCH'];
const MORE_METHODS = ['HEAD', 'OPTIONS', 'PROPFIND', 'X-CUSTOM'];
// fetch upper-cases these (whatever their case); other methods go out as written.
const NORMALISED = new Set(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT']);

/** How long an answer the server owes may take on a busy machine. */
const ANSWER_MS = 20_000;

/** Random requests through fetch: exact statuses, nothing internal in any body. */
export async function fetchPhase(fuzz: Fuzz, random: Random): Promise<void> {
  for (let i = 0; i < fuzz.iterations; i++) {
    const app = pick(random, fuzz.apps);
    const method = pick(random, [...FETCH_METHODS, ...MORE_METHODS]);
    const sent = NORMALISED.has(method.toUpperCase()) ? method.toUpperCase() : method;
    const target = `${random() < 0.05 ? '/elsewhere' : '/events'}?${req.randomQuery(random)}`;
    const headers = req.randomHeaders(random);
    const verdict = req.headerVerdict(headers, target);
    const status = req.expectedStatus(sent, target, app === fuzz.apps[0]);
    // node:http refuses a method it does not know with 400 before it even reads the headers.
    const expected =
      sent === 'X-CUSTOM' ? 400 : verdict === 'unsure' ? undefined : (verdict ?? status);
    const controller = new AbortController();
    let got: number | undefined;
    let body = '';
    try {
      const response = await fetch(`${app.url}${target}`, {
        method,
        headers,
        signal: controller.signal,
      });
      got = response.status;
      // Until the body ends or a stream's first event: an answer is judged on what it says, not
      // on how fast a busy machine sends it (the deadline only ends a server that hangs).
      const reader = response.body?.getReader();
      const deadline = setTimeout(() => controller.abort(), ANSWER_MS);
      try {
        while (reader && !body.includes('eventrail.connected')) {
          const chunk = await reader.read();
          if (chunk.done) break;
          body += Buffer.from(chunk.value).toString('latin1');
        }
      } catch {
        // aborted at the deadline: judged on what arrived
      } finally {
        clearTimeout(deadline);
      }
    } catch (err) {
      // undici refuses some header bytes itself; node closes the socket of a request its parser
      // refuses (400, 431), which may cut undici off while it is still sending.
      const refused = String((err as Error).cause).startsWith('InvalidArgumentError');
      const cut = expected === undefined || expected === 400 || expected === 431;
      assert.ok(
        refused || cut,
        fuzz.why(`fetch ${method} ${target}: ${err} (expected ${expected})`),
      );
      fuzz.count(refused ? 'fetch refused by undici' : 'fetch cut');
      continue;
    } finally {
      controller.abort();
    }
    fuzz.count(`fetch ${got}`);
    const where = app === fuzz.apps[0] ? 'node:http' : 'fetch';
    answer(fuzz, got, body, expected, `${where} fetch ${method} ${target.slice(0, 200)}`);
  }
}

/** Random, often malformed requests written to a raw socket. */
export async function socketPhase(fuzz: Fuzz, random: Random): Promise<void> {
  for (let i = 0; i < fuzz.iterations; i++) {
    const app = pick(random, fuzz.apps);
    const request = req.rawRequest(random);
    const target = request.bytes.toString('latin1').split(' ')[1] ?? '';
    // The fetch app serves every path; the node:http app only /events (404 elsewhere).
    let expected = request.expected;
    if (app !== fuzz.apps[0] && expected === 404)
      expected = req.expectedStatus(request.method, target, false);
    const port = Number(new URL(app.url).port);
    // A request that must be answered waits for its answer; an unsure one (where silence is
    // acceptable too) gives up sooner.
    const wait = expected === undefined ? 1500 : ANSWER_MS;
    const response = await rawHttp(port, request.bytes, request.method === 'HEAD', wait);
    fuzz.count(`socket ${response.status ?? 'closed'}`);
    const where = app === fuzz.apps[0] ? 'node:http' : 'fetch';
    const what = `${where} raw ${JSON.stringify(request.bytes.toString('latin1').slice(0, 300))}`;
    answer(fuzz, response.status, response.text, expected, what);
  }
}

const CODES = new Set([
  'invalid-channel',
  'invalid-event-type',
  'invalid-data',
  'payload-too-large',
]);

/** Publishes of any shape: valid ones resolve, every other one is refused with a typed error. */
export async function publishPhase(fuzz: Fuzz, random: Random): Promise<void> {
  for (let i = 0; i < fuzz.iterations; i++) {
    const c = publishCase(random, SECRET);
    const publisher = pick(random, fuzz.apps).sse.publisher;
    let promise: Promise<void>;
    try {
      promise = publisher.publishEvent(c.channel as string, c.event as PublishableEvent);
    } catch (err) {
      assert.fail(fuzz.why(`publishEvent threw instead of rejecting: ${err}`));
    }
    const result: unknown = await promise.then(
      () => 'ok',
      (err: unknown) => err,
    );
    const typed = result instanceof EventrailError && CODES.has(result.code);
    const said =
      result instanceof Error ? `${result.name} ${result.message.slice(0, 120)}` : result;
    const what = fuzz.why(`publish #${i} should be ${c.outcome}, got ${said}`);
    fuzz.count(
      `publish ${typed ? result.code : result === 'ok' ? 'ok' : `untyped ${said}`.slice(0, 60)}`,
    );
    if (c.outcome === 'ok') assert.equal(result, 'ok', what);
    else if (c.outcome === 'typed') assert.ok(typed, what);
    else assert.ok(result === 'ok' || result instanceof EventrailError, what);
  }
}

/** Bytes another program might PUBLISH on our channels. */
function brokerPayload(random: Random): Buffer {
  const json = (type: unknown, data: unknown = {}) =>
    Buffer.from(JSON.stringify({ event_type: type, data }));
  // Past, far-future and unparseable history ids.
  const id = pick(random, [
    '99999999999999999-0',
    `${Date.now() + 3_600_000}-0`,
    '1-1',
    '0-0',
    '1-99999999999',
    '9999999999999999-0',
    '1234567890123456789-1',
    'a-b',
  ]);
  switch (int(random, 0, 9)) {
    case 0:
      return randomBytes(random, int(random, 0, 3000));
    case 1:
      return json(
        pick(random, [
          'a\r\nevent: evil',
          'a\u0000b',
          '\r',
          '\n\ndata: x',
          '',
          'x'.repeat(300),
          7,
          null,
          {},
        ]),
      );
    case 2:
      return Buffer.from('{"event_type":"a\r\nb","data":{"x":"\r\n\r\ndata: injected\r\n"}}');
    case 3:
      return Buffer.from(`{"event_type":"a.b","data":{"k":1},"eventrail_id":"${id}"}`);
    case 4:
      return Buffer.from(`not json,"eventrail_id":"${id}"}`);
    case 5:
      return Buffer.concat([Buffer.from('\ufeff'), json('bom.x')]);
    case 6:
      return Buffer.from(
        `{"event_type":"deep","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
      );
    case 7:
      return random() < 0.3 ? Buffer.alloc(int(random, 1e6, 2e6), 'y') : Buffer.alloc(0);
    case 8:
      return json('x.y', { s: '\ud800', n: '\u0000', crlf: '\r\n', sep: '\u2028' });
    default:
      return Buffer.concat([
        Buffer.from('{"event_type":"'),
        randomBytes(random, 40),
        Buffer.from('","data":1}'),
      ]);
  }
}

/** Arbitrary bytes PUBLISHed on the canaries' channels (and others) by another Redis client. */
export async function brokerPhase(
  fuzz: Fuzz,
  random: Random,
  port: number,
  check: (phase: string) => Promise<void>,
): Promise<void> {
  const other = await connectBytePublisher(port);
  try {
    for (let i = 0; i < fuzz.iterations; i++) {
      const channel = pick(random, [
        'gym:1:a',
        'gym:1:canary',
        'gym:1:x',
        'gym:2:a',
        'gym:1:*',
        'gym:1:',
      ]);
      const name =
        random() < 0.1 ? Buffer.concat([Buffer.from('gym:1:'), randomBytes(random, 8)]) : channel;
      fuzz.count(`receivers ${await other.publish(name, brokerPayload(random))}`);
      if (i % 100 === 99) await check(`broker payloads ${i - 99}-${i}`);
    }
  } finally {
    other.close();
  }
}
