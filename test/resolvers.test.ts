/**
 * The resolver examples (examples/resolvers) against a real server: a valid credential gets a
 * 200 stream that receives its scope's events; forged, tampered, expired, reused and missing ones
 * get 401, with nothing of the reason in the body (it goes to onError).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  createBearerResolver,
  createTicketStore,
  redactUrl,
  ticketHandler,
} from '../examples/resolvers/bearer.js';
import { createSessionCookies } from '../examples/resolvers/signed-cookie.js';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createSseServer, EventrailError, type SseServer } from '../src/index.js';
import type { Principal, PrincipalResolver } from '../src/types.js';
import { openRaw, waitFor } from './helpers/sse.js';

const SECRET = 'a test secret that is at least 32 bytes long';
const broker = createMemoryBroker();
let clock = Date.now();
const now = () => clock;
const errors: Error[] = [];
const running: Array<{ http: Server; sse: SseServer }> = [];

/** An SSE server at /events on node:http, plus any other routes. */
async function serve(
  resolver: PrincipalResolver<Principal>,
  routes: Record<string, (req: never, res: never) => unknown> = {},
): Promise<{ url: string; sse: SseServer }> {
  const sse = createSseServer({
    broker,
    resolver,
    router: (p) => [`gym:${p.scopeId}:*`],
    hooks: { onError: (e) => void errors.push(e) },
  });
  const http = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = routes[path];
    if (route) void route(req as never, res as never);
    else if (path === '/events') void sse.handler(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  running.push({ http, sse });
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, sse };
}

after(async () => {
  for (const { http, sse } of running) {
    await sse.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  }
  await broker.close();
});

/** Opens a stream; for a 200 waits for an event of gym:1 to arrive on it. */
async function attempt(url: string, sse: SseServer, init: RequestInit = {}): Promise<number> {
  const before = errors.length;
  const s = await openRaw(url, init);
  if (s.status === 200) {
    await waitFor(() => s.events.length > 0, 'the connected event');
    await sse.publisher.publishType('gym:1:students', 'students.changed');
    await waitFor(() => s.events.some((e) => e.event === 'students.changed'), 'the event');
  } else {
    await s.ended;
    assert.equal(s.text, 'Unauthorized\n', 'a refusal says nothing about why');
    const reported = errors.slice(before).some((e) => e instanceof EventrailError);
    assert.ok(reported, 'the reason goes to onError');
  }
  s.abort();
  return s.status;
}

describe('examples/resolvers/signed-cookie', () => {
  const sessions = createSessionCookies({ secrets: [SECRET], maxAgeMs: 60_000, now });
  let app: { url: string; sse: SseServer };
  before(async () => {
    app = await serve(sessions.resolver);
  });
  const withCookie = (value: string) => ({ headers: { Cookie: `theme=dark; session=${value}` } });
  const alice = { userId: 'alice', scopeId: '1' };

  it('a valid cookie gets a stream of its scope', async () => {
    assert.equal(
      await attempt(`${app.url}/events`, app.sse, withCookie(sessions.sign(alice))),
      200,
    );
  });

  it('refuses forged, tampered, truncated, expired, garbage and missing cookies with 401', async () => {
    const good = sessions.sign(alice);
    const [body, signature] = good.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const otherScope = Buffer.from(JSON.stringify({ ...claims, s: '2' })).toString('base64url');
    const forger = createSessionCookies({
      secrets: ['another secret of at least 32 bytes!!'],
      now,
    });
    const cases: Record<string, RequestInit> = {
      missing: {},
      forged: withCookie(forger.sign(alice)),
      'tampered claims': withCookie(`${otherScope}.${signature}`),
      'truncated signature': withCookie(`${body}.${signature.slice(0, 20)}`),
      'no signature': withCookie(body),
      expired: withCookie(sessions.sign(alice, clock - 1)),
      garbage: withCookie('....'),
      huge: withCookie('x'.repeat(10_000)),
    };
    for (const [what, init] of Object.entries(cases)) {
      assert.equal(await attempt(`${app.url}/events`, app.sse, init), 401, what);
    }
  });

  it('a cookie stops working once it expires', async () => {
    const cookie = withCookie(sessions.sign(alice));
    assert.equal(await attempt(`${app.url}/events`, app.sse, cookie), 200);
    clock += 60_001;
    assert.equal(await attempt(`${app.url}/events`, app.sse, cookie), 401);
  });

  it('rotates secrets: the old one still verifies, the new one signs', () => {
    const rotated = createSessionCookies({ secrets: [`new ${SECRET}`, SECRET], now });
    const old = sessions.sign(alice);
    const request = (value: string) => ({ headers: new Headers({ cookie: `session=${value}` }) });
    assert.deepEqual(rotated.resolver(request(old) as never), alice);
    assert.throws(() => sessions.resolver(request(rotated.sign(alice)) as never));
    assert.match(
      rotated.setCookie(alice),
      /^session=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Lax$/,
    );
  });
});

describe('examples/resolvers/bearer', () => {
  const tokens = new Map<string, Principal>([['tok-alice.1', { userId: 'alice', scopeId: '1' }]]);
  const verify = (token: string): Principal => {
    const principal = tokens.get(token);
    if (!principal) throw new Error(`unknown token ${token}`);
    return principal;
  };
  const tickets = createTicketStore<Principal>({ ttlMs: 30_000, now });
  let app: { url: string; sse: SseServer };
  before(async () => {
    app = await serve(createBearerResolver({ verify, tickets }), {
      '/events/ticket': ticketHandler(verify, tickets),
    });
  });
  const bearer = (value: string) => ({ headers: { Authorization: value } });
  const ticket = async (authorization?: string) => {
    const headers: Record<string, string> = authorization ? { Authorization: authorization } : {};
    const r = await fetch(`${app.url}/events/ticket`, { method: 'POST', headers });
    return { status: r.status, body: (await r.json()) as { ticket?: string } };
  };

  it('a valid bearer token gets a stream of its scope', async () => {
    assert.equal(await attempt(`${app.url}/events`, app.sse, bearer('Bearer tok-alice.1')), 200);
    assert.equal(await attempt(`${app.url}/events`, app.sse, bearer('bearer tok-alice.1')), 200);
  });

  it('refuses wrong, malformed, other-scheme, missing and query-string tokens with 401', async () => {
    for (const value of [
      'Bearer nope',
      'Bearer',
      'Bearer tok-alice.1 x',
      'Basic dG9rLWFsaWNl',
      'tok-alice.1',
    ]) {
      assert.equal(await attempt(`${app.url}/events`, app.sse, bearer(value)), 401, value);
    }
    assert.equal(await attempt(`${app.url}/events`, app.sse), 401, 'missing');
    // The token itself in the URL is never read.
    for (const q of ['token', 'access_token', 'ticket']) {
      assert.equal(await attempt(`${app.url}/events?${q}=tok-alice.1`, app.sse), 401, q);
    }
  });

  it('exchanges a token for a one-time ticket that expires', async () => {
    assert.equal((await ticket()).status, 401);
    assert.equal((await ticket('Bearer nope')).status, 401);
    assert.equal((await fetch(`${app.url}/events/ticket`)).status, 405);
    const { status, body } = await ticket('Bearer tok-alice.1');
    assert.equal(status, 200);
    assert.match(body.ticket ?? '', /^[A-Za-z0-9_-]{43}$/);
    const url = `${app.url}/events?ticket=${body.ticket}`;
    assert.equal(await attempt(url, app.sse), 200);
    assert.equal(await attempt(url, app.sse), 401, 'a ticket opens one stream, once');
    const late = (await ticket('Bearer tok-alice.1')).body.ticket;
    clock += 30_001;
    assert.equal(await attempt(`${app.url}/events?ticket=${late}`, app.sse), 401, 'expired');
  });

  it('redacts credentials from URLs before they are logged', () => {
    assert.equal(
      redactUrl('/events?ticket=abc&scope=1&access_token=x.y.z&Token=1#top'),
      '/events?ticket=REDACTED&scope=1&access_token=REDACTED&Token=REDACTED#top',
    );
    assert.equal(redactUrl('/events?scope=1'), '/events?scope=1');
    assert.equal(redactUrl('https://h/e?%74oken=s&k%zz=v'), 'https://h/e?%74oken=REDACTED&k%zz=v');
  });
});
