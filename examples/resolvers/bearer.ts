/**
 * A resolver for `Authorization: Bearer <token>`, the token checked by your own `verify` (a JWT
 * library, an introspection call, an API-key lookup), plus what to do when the client is a
 * browser's EventSource, which cannot set headers.
 *
 * Never put the token itself in the URL. URLs are written to access logs (yours, the reverse
 * proxy's, the CDN's), kept in browser history, sent to other sites in `Referer`, and copied into
 * crash reports and analytics: a token in a query string is a leaked token, for as long as it
 * lives. For browsers, prefer a cookie (signed-cookie.ts) or a fetch-based SSE client that can
 * send headers. If the URL must carry something, make it a ticket:
 *
 * 1. the page POSTs to `/events/ticket` with its `Authorization` header (a POST is never
 *    prefetched or cached, and cross-origin it needs a CORS preflight);
 * 2. the server verifies the token and answers `{ "ticket": "..." }`: 32 random bytes, valid for
 *    30 seconds, good for opening one stream once;
 * 3. the page opens `new EventSource('/events?ticket=...')`.
 *
 * Whoever reads a log line later finds a ticket that was used and has expired. Redact it anyway
 * (`redactUrl`). A used ticket gets 401, on which EventSource stops for good, so the page fetches a
 * new ticket and opens a new EventSource itself (eventrail/client reuses one fixed URL):
 *
 * ```js
 * let lastEventId = '';
 * async function open() {
 *   const r = await fetch('/events/ticket', { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
 *   const { ticket } = await r.json();
 *   const q = new URLSearchParams({ ticket, lastEventId });
 *   const source = new EventSource(`/events?${q}`);
 *   source.onmessage = (e) => { lastEventId = e.lastEventId || lastEventId; };
 *   source.onerror = () => { source.close(); setTimeout(open, 1000 + Math.random() * 2000); };
 * }
 * ```
 *
 * Tickets live in memory here: with several instances behind a load balancer, keep them where
 * every instance finds them, e.g. Redis `SET ticket:{t} {principal} PX 30000` and `GETDEL`.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal, PrincipalResolver, SseRequest } from 'eventrail';

/** Checks a bearer token and returns its principal; throws (or rejects) when it is not valid. */
export type VerifyToken<P extends Principal> = (token: string) => P | Promise<P>;

// RFC 6750: `Bearer` (any case), one space, a token68.
const BEARER = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i;

/** The bearer token of an `Authorization` header value, or undefined. */
export function bearerToken(authorization: string | null | undefined): string | undefined {
  if (!authorization || authorization.length > 8192) return undefined;
  return BEARER.exec(authorization)?.[1];
}

/** One-time, short-lived tickets that stand in for a token in a URL. */
export interface TicketStore<P extends Principal> {
  /** A new ticket for `principal`. */
  issue(principal: P): string;
  /** The principal of a ticket that is valid, once; undefined for unknown, used or expired ones. */
  redeem(ticket: string): P | undefined;
}

/** Tickets in this process's memory (see above for several instances). */
export function createTicketStore<P extends Principal>(
  options: { ttlMs?: number; now?: () => number } = {},
): TicketStore<P> {
  const ttlMs = options.ttlMs ?? 30_000;
  const now = options.now ?? Date.now;
  const tickets = new Map<string, { principal: P; expires: number }>();
  return {
    issue(principal) {
      // Forget expired tickets as new ones come, so the map stays as small as the traffic.
      for (const [t, entry] of tickets) if (entry.expires <= now()) tickets.delete(t);
      const ticket = randomBytes(32).toString('base64url');
      tickets.set(ticket, { principal, expires: now() + ttlMs });
      return ticket;
    },
    redeem(ticket) {
      const entry = tickets.get(ticket);
      // Deleted on first use, valid or not: a ticket opens at most one stream.
      tickets.delete(ticket);
      return entry && entry.expires > now() ? entry.principal : undefined;
    },
  };
}

/**
 * The resolver: the `Authorization` header when there is one; else, when `tickets` is given, a
 * `?ticket=`. Every refusal throws a message for your logs; the client only ever sees 401.
 */
export function createBearerResolver<P extends Principal>(options: {
  verify: VerifyToken<P>;
  tickets?: TicketStore<P>;
}): PrincipalResolver<P> {
  return async (request: SseRequest) => {
    const header = request.headers.get('authorization');
    if (header !== null) {
      const token = bearerToken(header);
      if (token === undefined) throw new Error('malformed Authorization header');
      return options.verify(token);
    }
    const ticket = request.url.searchParams.get('ticket');
    if (options.tickets && ticket) {
      const principal = options.tickets.redeem(ticket);
      if (principal) return principal;
      throw new Error('unknown, used or expired ticket');
    }
    throw new Error('no credentials');
  };
}

/**
 * A node:http handler for `POST /events/ticket`: exchanges a valid bearer token for a ticket.
 * Answers 405 to anything but POST and 401 to a missing or invalid token.
 */
export function ticketHandler<P extends Principal>(
  verify: VerifyToken<P>,
  tickets: TicketStore<P>,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const json = (res: ServerResponse, status: number, body: unknown) =>
    void res
      .writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
      .end(JSON.stringify(body));
  return async (req, res) => {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return json(res, 405, { error: 'method not allowed' });
    }
    const token = bearerToken(req.headers.authorization);
    let principal: P;
    try {
      if (token === undefined) throw new Error('no bearer token');
      principal = await verify(token);
    } catch {
      return json(res, 401, { error: 'unauthorized' });
    }
    json(res, 200, { ticket: tickets.issue(principal) });
  };
}

const SECRET_PARAMS = /^(access_token|token|ticket|auth|authorization|api_key|apikey|key|jwt)$/i;

/**
 * A URL (or `req.url` path) safe to log: the values of credential-like query parameters become
 * `REDACTED`. Use it in your request logger, and in the proxy's log format where you can.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const end = hash < 0 ? url.length : hash;
  const query = url
    .slice(q + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      let name = key;
      try {
        name = decodeURIComponent(key.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judge the key as written.
      }
      return SECRET_PARAMS.test(name) ? `${key}=REDACTED` : pair;
    })
    .join('&');
  return `${url.slice(0, q + 1)}${query}${url.slice(end)}`;
}
