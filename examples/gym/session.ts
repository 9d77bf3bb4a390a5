/**
 * Signed session cookies: `base64url(JSON) + "." + base64url(HMAC-SHA256)`, HttpOnly, SameSite=Lax.
 * Every instance of the demo shares SESSION_SECRET, so any of them accepts a cookie set by another.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Who is signed in, and to which gym. */
export interface Session {
  readonly user: string;
  readonly gym: number;
}

export const COOKIE_NAME = 'gym_session';
const MAX_AGE_S = 7 * 24 * 3600;
const DEV_SECRET = 'eventrail-demo-development-secret: set SESSION_SECRET in production';

const USER = /^[A-Za-z0-9_-]{1,32}$/;
const GYM = /^[1-9][0-9]{0,8}$/;

/** `user`: 1-32 of `[A-Za-z0-9_-]`. */
export function parseUser(value: string | null | undefined): string | undefined {
  return value != null && USER.test(value) ? value : undefined;
}

/** `gym`: a positive integer of at most 9 digits. */
export function parseGym(value: string | null | undefined): number | undefined {
  return value != null && GYM.test(value) ? Number(value) : undefined;
}

/** SESSION_SECRET, or the development secret with a warning on stderr. */
export function sessionSecret(env: NodeJS.ProcessEnv = process.env): string {
  const secret = env.SESSION_SECRET;
  if (secret !== undefined && secret !== '') return secret;
  console.warn(
    '[gym] WARNING: SESSION_SECRET is not set; using a fixed development secret. ' +
      'Anyone can forge sessions: set SESSION_SECRET (the same on every instance) in production.',
  );
  return DEV_SECRET;
}

function readCookie(header: string | null | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Signs and checks session cookies with one secret. */
export class Sessions {
  readonly #secret: string;

  constructor(secret: string) {
    this.#secret = secret;
  }

  #sign(body: string): Buffer {
    return createHmac('sha256', this.#secret).update(body).digest();
  }

  /** The `Set-Cookie` value that signs `session` in. */
  setCookie(session: Session, now = Date.now()): string {
    const body = Buffer.from(
      JSON.stringify({ u: session.user, g: session.gym, t: Math.floor(now / 1000) }),
    ).toString('base64url');
    const value = `${body}.${this.#sign(body).toString('base64url')}`;
    return `${COOKIE_NAME}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${MAX_AGE_S}`;
  }

  /** The `Set-Cookie` value that signs out. */
  clearCookie(): string {
    return `${COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;
  }

  /** The session of a `Cookie` header, or undefined when it is missing, forged or expired. */
  read(cookieHeader: string | null | undefined, now = Date.now()): Session | undefined {
    const value = readCookie(cookieHeader, COOKIE_NAME);
    const dot = value?.indexOf('.') ?? -1;
    if (value === undefined || dot <= 0) return undefined;
    const body = value.slice(0, dot);
    const mac = Buffer.from(value.slice(dot + 1), 'base64url');
    const expected = this.#sign(body);
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (parsed === null || typeof parsed !== 'object') return undefined;
    const { u, g, t } = parsed as Record<string, unknown>;
    const user = typeof u === 'string' ? parseUser(u) : undefined;
    const gym = typeof g === 'number' ? parseGym(String(g)) : undefined;
    if (user === undefined || gym === undefined || typeof t !== 'number') return undefined;
    if (now / 1000 - t > MAX_AGE_S) return undefined;
    return { user, gym };
  }
}
