/**
 * A resolver for an HMAC-signed session cookie, with node:crypto only.
 *
 * The cookie is `base64url(JSON {u, s, exp}) + "." + base64url(HMAC-SHA256(secret, that))`:
 *
 * - every instance shares the secret, so a cookie set by one is accepted by all (no sticky
 *   sessions, no session store round trip per stream);
 * - the signature is compared in constant time (`timingSafeEqual`), so response timing tells an
 *   attacker nothing about how much of a forged signature was right;
 * - it carries its own expiry, checked on every connect. A stream outlives nothing: with a
 *   maximum connection lifetime (see README: Limits) the browser reconnects, and an expired
 *   cookie then gets 401;
 * - it is set `HttpOnly; Secure; SameSite=Lax`: page scripts cannot read it, and other sites'
 *   pages do not send it along (SameSite), which keeps a cross-site page from opening your stream
 *   with your user's session.
 *
 * Secrets rotate: `secrets[0]` signs, every secret in the list verifies. Use 32+ random bytes
 * (`openssl rand -base64 48`), from the environment, never from the repository.
 *
 * @example
 * ```ts
 * import { createSseServer } from 'eventrail';
 * import { createSessionCookies } from './resolvers/signed-cookie.js';
 *
 * const sessions = createSessionCookies({ secrets: [process.env.SESSION_SECRET ?? ''] });
 * const sse = createSseServer({
 *   broker,
 *   resolver: sessions.resolver,
 *   router: (principal) => [`gym:${principal.scopeId}:*`],
 * });
 * // In your login handler, once the password checked out:
 * res.setHeader('Set-Cookie', sessions.setCookie({ userId: user.id, scopeId: user.gymId }));
 * ```
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Principal, PrincipalResolver, SseRequest } from 'eventrail';

/** Options of {@link createSessionCookies}. */
export interface SessionCookieOptions {
  /** HMAC keys, each at least 32 bytes: the first signs, all verify (for rotation). */
  readonly secrets: ReadonlyArray<string | Buffer>;
  /** The cookie's name. @defaultValue `'session'` */
  readonly cookieName?: string;
  /** How long a new cookie is valid. @defaultValue 8 hours */
  readonly maxAgeMs?: number;
  /** The clock, in ms since the epoch (tests pass their own). @defaultValue `Date.now` */
  readonly now?: () => number;
}

/** Signs and verifies session cookies. */
export interface SessionCookies {
  /** For `createSseServer({ resolver })`: the cookie's principal, or a throw (401). */
  readonly resolver: PrincipalResolver<Principal>;
  /** The signed cookie value for `principal`, valid until `expiresAt` (ms since the epoch). */
  sign(principal: Principal, expiresAt?: number): string;
  /** A whole `Set-Cookie` header value for `principal`. */
  setCookie(principal: Principal): string;
}

// Ids end up in routes (`gym:{scopeId}:*`): keep them to characters a route can hold.
const ID = /^[A-Za-z0-9_-]{1,64}$/;
// A cookie we would never issue is refused before any crypto runs.
const MAX_COOKIE_LENGTH = 1024;

/** The value of cookie `name` in a `Cookie` header (the first one, when a name repeats). */
export function readCookie(header: string | null, name: string): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Creates the cookie signer and the resolver that checks it. */
export function createSessionCookies(options: SessionCookieOptions): SessionCookies {
  const keys = options.secrets.map((s) => (typeof s === 'string' ? Buffer.from(s) : s));
  if (keys.length === 0 || keys.some((k) => k.length < 32)) {
    throw new Error('createSessionCookies needs secrets of at least 32 bytes each.');
  }
  const name = options.cookieName ?? 'session';
  const maxAgeMs = options.maxAgeMs ?? 8 * 3600_000;
  const now = options.now ?? Date.now;
  const mac = (key: Buffer, body: string): Buffer =>
    createHmac('sha256', key).update(body).digest();

  function sign(principal: Principal, expiresAt = now() + maxAgeMs): string {
    const [u, s] = [String(principal.userId), String(principal.scopeId)];
    if (!ID.test(u) || !ID.test(s))
      throw new Error('userId and scopeId must match [A-Za-z0-9_-]{1,64}.');
    const body = Buffer.from(JSON.stringify({ u, s, exp: expiresAt })).toString('base64url');
    return `${body}.${mac(keys[0] as Buffer, body).toString('base64url')}`;
  }

  /** The principal of a cookie value, or a throw saying why not (for your logs, never the client). */
  function verify(value: string): Principal {
    const dot = value.lastIndexOf('.');
    if (value.length > MAX_COOKIE_LENGTH || dot <= 0) throw new Error('malformed session cookie');
    const body = value.slice(0, dot);
    const given = Buffer.from(value.slice(dot + 1), 'base64url');
    // timingSafeEqual needs equal lengths; the length of an HMAC-SHA256 is no secret.
    const genuine = keys.some((key) => {
      const expected = mac(key, body);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
    if (!genuine) throw new Error('bad session signature');
    // Signed by us, so well-formed; checked anyway, as a second line.
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const { u, s, exp } = claims;
    if (typeof u !== 'string' || typeof s !== 'string' || !ID.test(u) || !ID.test(s))
      throw new Error('malformed session claims');
    if (typeof exp !== 'number' || exp <= now()) throw new Error('session expired');
    return { userId: u, scopeId: s };
  }

  return {
    resolver(request: SseRequest): Principal {
      const value = readCookie(request.headers.get('cookie'), name);
      if (value === undefined) throw new Error('no session cookie');
      return verify(value);
    },
    sign,
    setCookie(principal) {
      const maxAge = Math.floor(maxAgeMs / 1000);
      return `${name}=${sign(principal)}; Path=/; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=Lax`;
    },
  };
}
