/**
 * Random HTTP requests for the request-path fuzz, the resolver and router they are sent to, and
 * the status each must get (an oracle written apart from the server's code).
 */
import { METHODS } from 'node:http';
import type { Principal, SseRequest } from '../../src/types.js';
import { randomText } from './random.js';
import { hostileChannel, int, pick, type Random, SECRET } from './tenants.js';

/** A principal of `?scope=<n>`; `?none` routes it nowhere, `?route=` routes it there. */
export interface FuzzPrincipal extends Principal {
  readonly none: boolean;
  readonly route: string | null;
}

const SCOPE = /^[1-9][0-9]{0,8}$/;

export function fuzzResolver(request: SseRequest): FuzzPrincipal {
  const q = request.url.searchParams;
  const scope = q.get('scope') ?? '';
  if (q.has('deny') || !SCOPE.test(scope)) throw new Error(`${SECRET}: bad scope ${scope}`);
  return { userId: 'fuzz', scopeId: scope, none: q.has('none'), route: q.get('route') };
}

export function fuzzRouter(p: FuzzPrincipal): readonly string[] {
  if (p.none) return [];
  return [p.route ?? `gym:${p.scopeId}:*`];
}

const PART = /^[^\s*?[\]^\\:\p{Cc}]+$/u;
const validPart = (p: string, star: boolean) =>
  (star && p === '*') || (p.length <= 128 && PART.test(p));

/**
 * What node:http itself answers to these headers before any handler runs: 400 for a control
 * character in a value, 431 (or 400) for a header block far over 16 KiB; `unsure` near it.
 */
export function headerVerdict(
  headers: ReadonlyArray<[string, string]>,
  target: string,
): number | 'unsure' | undefined {
  const size = headers.reduce((n, [k, v]) => n + k.length + v.length + 4, target.length + 40);
  // Which of the two node finds first depends on where the bad byte sits: say 431 for both.
  if (size > 17_000) return 431;
  if (size > 12_000) return 'unsure';
  const ctl = (c: number) => (c < 0x20 && c !== 0x09) || c === 0x7f;
  return headers.some(([, v]) => [...v].some((ch) => ctl(ch.charCodeAt(0)))) ? 400 : undefined;
}

/** The status eventrail must answer a request that reached it. */
export function expectedStatus(method: string, target: string, nodeApp: boolean): number {
  if (nodeApp && !target.startsWith('/events')) return 404;
  if (method !== 'GET') return 405;
  const q = new URL(target, 'http://localhost').searchParams;
  if (q.has('deny') || !SCOPE.test(q.get('scope') ?? '')) return 401;
  if (q.has('none')) return 204;
  const route = q.get('route');
  if (route === null) return 200;
  const parts = route.split(':');
  return parts.length === 3 && parts.every((p, i) => validPart(p, i === 2)) ? 200 : 500;
}

/** A Last-Event-ID of random bytes and length (no CR or LF: those would end the header). */
export function randomId(random: Random): string {
  const length = pick(random, [0, 1, 20, 128, 129, 1000, 10_240]);
  const printable = random() < 0.6;
  let id = '';
  while (id.length < length) {
    id += String.fromCharCode(printable ? int(random, 0x21, 0x7e) : int(random, 0x01, 0xff));
  }
  return id.replace(/[\r\n]/g, '_');
}

/** A query string (encoded) that mostly carries a principal, with junk around it. */
export function randomQuery(random: Random): string {
  const params: Array<[string, string]> = [];
  const scope =
    random() < 0.75
      ? String(int(random, 1, 999))
      : pick(random, ['0', '-1', 'abc', '1e3', '', '١', '1 ', '9999999999', '1\u0000']);
  params.push(['scope', scope]);
  if (random() < 0.1) params.push(['deny', '']);
  if (random() < 0.08) params.push(['none', '1']);
  if (random() < 0.15) {
    params.push([
      'route',
      random() < 0.5 ? `gym:${int(random, 1, 9)}:*` : hostileChannel(random, true),
    ]);
  }
  if (random() < 0.3) params.push(['lastEventId', randomId(random)]);
  for (let i = int(random, 0, 3); i > 0; i--)
    params.push([randomText(random, 10), randomText(random, 40)]);
  if (random() < 0.15)
    params.splice(int(random, 0, params.length), 0, ['scope', pick(random, ['2', 'x'])]);
  return params
    .map(
      ([k, v]) =>
        `${encodeURIComponent(k)}=${encodeURIComponent(v.replace(/[\ud800-\udfff]/g, ''))}`,
    )
    .join('&');
}

/** Headers a fetch client can send: odd but valid names and values, duplicates, some huge. */
export function randomHeaders(random: Random): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  const latin1 = (n: number) => {
    let s = 'v';
    for (let i = 0; i < n; i++)
      s += String.fromCharCode(random() < 0.5 ? int(random, 0x21, 0x7e) : int(random, 0xa0, 0xff));
    return `${s}v`;
  };
  for (let i = int(random, 0, 6); i > 0; i--) {
    headers.push(
      pick(random, [
        ['Accept', 'text/event-stream'],
        ['Cookie', `session=${latin1(int(random, 0, 200))}`],
        ['Authorization', `Bearer ${latin1(40)}`],
        ['User-Agent', latin1(int(random, 0, 300))],
        ['X-Eventrail-Origin', latin1(int(random, 0, 150))],
        ['Origin', 'https://evil.example'],
        ['Last-Event-ID', randomId(random).trim() || 'x'],
        ['X-Big', 'a'.repeat(pick(random, [1000, 8000, 20_000]))],
        [
          `X-${randomText(random, 8).replace(/[^A-Za-z0-9-]/g, '') || 'y'}`,
          latin1(int(random, 0, 50)),
        ],
      ] as Array<[string, string]>),
    );
  }
  return headers;
}

/** The bytes of a raw request: maybe malformed (odd methods, bytes, folds, missing Host). */
export function rawRequest(random: Random): {
  bytes: Buffer;
  method: string;
  /** The status for the node:http app; undefined when the request is malformed. */
  expected: number | undefined;
} {
  let clean = true;
  let method = pick(random, [
    'GET',
    'GET',
    'GET',
    'POST',
    'HEAD',
    'OPTIONS',
    'DELETE',
    'PATCH',
    'PROPFIND',
  ]);
  if (random() < 0.1) {
    method = pick(random, ['get', 'G ET', '', 'CONNECT', 'PRI', 'X-CUSTOM', 'GET\u0000', 'ĜET']);
    clean = false;
  }
  let target = `/events?${randomQuery(random)}`;
  if (random() < 0.15) {
    target = pick(random, [
      `${target}&x=%zz%`,
      `${target}&y=\u00ff\u00fe`,
      `${target}#frag`,
      `${target}&z="<>{}|\`^`,
      '*',
      'http://evil.example/events?scope=1',
      `${target} x`,
      '/../events?scope=1',
      '/%2e%2e/events',
    ]);
    clean = false;
  }
  const host = random() < 0.9 ? 'localhost' : randomText(random, 20).replace(/[\r\n]/g, '');
  if (host !== 'localhost') clean = false;
  // Without Host an HTTP/1.1 request is malformed (node answers 400).
  const hostless = random() < 0.05;
  const lines = hostless ? [] : [`Host: ${host}`];
  const headers = randomHeaders(random);
  for (const [name, value] of headers) lines.push(`${name}: ${value}`);
  const verdict = headerVerdict(headers, target);
  if (random() < 0.15) {
    lines.push(
      pick(random, [
        'Bad Name: x',
        'X-Nul: a\u0000b',
        'X-Fold: a\r\n folded',
        'Host: other',
        ': empty',
        'Last-Event-ID: a\r\nLast-Event-ID: b',
        'Content-Length: 0',
        'Transfer-Encoding: chunked',
      ]),
    );
    clean = false;
  }
  const head = `${method} ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
  if (hostless || !METHODS.includes(method) || method === 'CONNECT') clean = false;
  const bytes = Buffer.from(head, 'latin1');
  if (!clean || verdict === 'unsure') return { bytes, method, expected: undefined };
  return { bytes, method, expected: verdict ?? expectedStatus(method, target, true) };
}
