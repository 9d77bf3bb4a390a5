/**
 * Random tenants for the isolation and fuzz tests: principals whose routes come from the query
 * string, channels and routes from a small alphabet (so that tenants collide and prefixes overlap),
 * and the hostile values a tenant or a publisher might send.
 */
import type { Principal, Publisher, SseRequest } from '../../src/types.js';

export type Random = () => number;

/**
 * Scopes, ids and topics that are prefixes of each other: `gy`/`gym`, `1`/`10`, `a`/`ab`; the id
 * `1\uFFFD`, which Redis would confuse with `1\uD800` if that were not refused; and the id `gym`,
 * so that the route `org:gym:*` of an application without a prefix matches the channels
 * `org:gym:{id}:{topic}` of one with the prefix `org:` (see {@link PREFIXES}).
 */
export const SCOPES = ['gym', 'gy', 'org'] as const;
export const IDS = ['1', '2', '10', '1\uFFFD', 'gym'] as const;

/** The Redis prefixes of two applications sharing one Redis: one is a scope of the other. */
export const PREFIXES = ['', 'org:'] as const;
export const TOPICS = ['a', 'b', 'ab'] as const;

/** What the resolver puts in front of every refusal; it must never reach a response body. */
export const SECRET = 'resolver-secret-detail-7f3a';

export const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;

export const int = (random: Random, min: number, max: number): number =>
  min + Math.floor(random() * (max - min + 1));

/** A valid channel of the alphabet. */
export function randomChannel(random: Random): string {
  return `${pick(random, SCOPES)}:${pick(random, IDS)}:${pick(random, TOPICS)}`;
}

/** One to three routes of the alphabet, some `scope:id:*`, some topic-specific. */
export function randomRoutes(random: Random): string[] {
  return Array.from({ length: int(random, 1, 3) }, () => {
    const topic = random() < 0.4 ? '*' : pick(random, TOPICS);
    return `${pick(random, SCOPES)}:${pick(random, IDS)}:${topic}`;
  });
}

/**
 * Whether `routes` allow an event on `channel`: the scope and scope id are equal, and the route's
 * topic is `*` or equal to the rest of the channel, which is one part (no `:`).
 */
export function allows(routes: readonly string[], channel: string): boolean {
  const first = channel.indexOf(':');
  const second = channel.indexOf(':', first + 1);
  if (first < 0 || second < 0) return false;
  const key = channel.slice(0, second);
  const topic = channel.slice(second + 1);
  // A topic is one part: `gym:1:a:b` and `gym:1:` are nobody's, though Redis globs match them.
  if (topic === '' || topic.includes(':')) return false;
  return routes.some((route) => {
    const at = route.lastIndexOf(':');
    return (
      route.slice(0, at) === key && (route.slice(at + 1) === '*' || route.slice(at + 1) === topic)
    );
  });
}

/** Parts that must never stand as a scope, scope id or topic. */
export const HOSTILE_PARTS: readonly string[] = [
  '',
  '*',
  '1*',
  '?',
  '[1]',
  '1]',
  '^1',
  '\\1',
  '1 2',
  ' ',
  '\t',
  '\n',
  '1\r',
  '\u0000',
  '\u0085',
  '\u2028',
  'x'.repeat(129),
  // Not well-formed Unicode: lone surrogates, which Redis would store as U+FFFD.
  '\uD800',
  '1\uD800',
  '\uDFFF',
  '\uDC00\uD83D',
];

/** A channel or route with one hostile part, or one of the wrong shape. */
export function hostileChannel(random: Random, topicStar = false): string {
  if (random() < 0.3) {
    return pick(random, [
      '',
      '*',
      ':',
      '::',
      'gym',
      'gym:1',
      'gym:*',
      'gym:1:a:b',
      ':1:a',
      '*:*:*',
    ]);
  }
  const parts = [pick(random, SCOPES), pick(random, IDS), topicStar ? '*' : pick(random, TOPICS)];
  parts[int(random, 0, topicStar ? 1 : 2)] = pick(random, HOSTILE_PARTS);
  return parts.join(':');
}

/**
 * Channels another program may PUBLISH on: malformed ones, near misses of the alphabet (`Gym`,
 * `01`) that no route is for, `gym:1\uD800:a` (which Redis receives as `gym:1\uFFFD:a`, a channel
 * of the alphabet) and `org:gym:1:a` (the channel `gym:1:a` of the application with the prefix
 * `org:`). Redis globbing matches `gym:1:a:b` and `gym:1:` for `gym:1:*`; nobody may receive them.
 */
export const RAW_CHANNELS: readonly string[] = [
  'gym:1:a:b',
  'gym:1:',
  'gym:1:*',
  'Gym:1:a',
  'gym:1 :a',
  'gym:1',
  '*',
  'gym:*:a',
  'gym:1\n:a',
  'gym:[1]:a',
  'gy:m:1:a',
  'gym:01:a',
  'org:1:a\u0000',
  'gym::a',
  'gym:1\uD800:a',
  'org:gym:1:a',
];

/** Payloads another program may PUBLISH, each carrying `tag` wherever a client would see it. */
export function rawPayload(random: Random, tag: string, junk: string): string {
  return pick(random, [
    `{"event_type":"raw.x","data":{"k":"${tag}"}}`,
    `{"event_type":"a\\nb","data":"${tag}"}`,
    `{"event_type":"","data":"${tag}"}`,
    `{"event_type":7,"data":"${tag}"}`,
    `[1,"${tag}"]`,
    `${tag} ${junk}`,
  ]);
}

/** Data the publisher must refuse with `invalid-data` (each mentions `tag`). */
export function hostileData(random: Random, tag: string): unknown {
  const cyclic: Record<string, unknown> = { k: tag };
  cyclic.self = cyclic;
  const throwing = {
    toJSON: () => {
      throw new Error(tag);
    },
  };
  return pick(random, [{ k: tag, n: 1n }, cyclic, throwing, Symbol(tag), () => tag]);
}

/**
 * Last-Event-IDs a client may come back with that must replay nothing: forged ids with the right
 * scope tag (positions not in the history, the wrong count), garbage, 10 KB, unicode.
 */
export function forgedIds(tag: string, scopes: number, junk: string): string[] {
  return [
    `${tag}${'_0-0'.repeat(scopes)}`,
    `${tag}${'_zzzzzzzzzz-0'.repeat(scopes)}`,
    `${tag}${'_1-1'.repeat(scopes + 1)}`,
    `${tag}_`,
    'not an id',
    '_'.repeat(200),
    'a'.repeat(10_240),
    '漢字😀\u2028é',
    '../../%00',
    junk,
  ];
}

/** Event types the publisher must refuse. */
export const HOSTILE_TYPES: readonly unknown[] = [
  '',
  'a\nb',
  'a\rb',
  'a\r\nevent: x',
  'a\u0000b',
  '\u0007',
  'x'.repeat(257),
  'eventrail.resync', // reserved: would make browsers refetch everything
  'eventrail.connected',
  42,
  null,
  ['a'],
];

/** One publish that must be refused, with the code it must be refused with. */
export function hostilePublish(
  random: Random,
  publisher: Publisher,
  tag: string,
): [string, () => Promise<void>] {
  const channel = randomChannel(random);
  const cases: Array<[string, () => Promise<void>]> = [
    [
      'invalid-channel',
      () => publisher.publishEvent(hostileChannel(random), { eventType: 'v.x', data: tag }),
    ],
    ['invalid-channel', () => publisher.publishType(hostileChannel(random), 'v.changed')],
    [
      'invalid-event-type',
      () =>
        publisher.publishEvent(channel, {
          eventType: pick(random, HOSTILE_TYPES) as string,
          data: tag,
        }),
    ],
    [
      'invalid-data',
      () => publisher.publishEvent(channel, { eventType: 'v.x', data: hostileData(random, tag) }),
    ],
  ];
  return pick(random, cases);
}

/** A principal whose routes are its `?r=` parameters. */
export interface RoutedPrincipal extends Principal {
  readonly routes: readonly string[];
}

/**
 * Reads `?u=<user>&r=<route>&r=...`, each route a JSON string (a URL has no form for a lone
 * surrogate: it would arrive as U+FFFD). `?deny` (or no route at all) throws with {@link SECRET}
 * in the message, which the server must keep to itself.
 */
export function routedResolver(request: SseRequest): RoutedPrincipal {
  const q = request.url.searchParams;
  const routes = q.getAll('r').map((r) => String(JSON.parse(r)));
  if (q.has('deny') || routes.length === 0) throw new Error(`${SECRET}: no session`);
  const first = routes[0] ?? '';
  return { userId: q.get('u') ?? 'anonymous', scopeId: first.split(':')[1] ?? '', routes };
}

/** The routes the principal carries, unchanged: the server must validate them. */
export function routedRouter(principal: RoutedPrincipal): readonly string[] {
  return principal.routes;
}

/** The query string of a principal. */
export function principalQuery(user: string, routes: readonly string[]): string {
  const q = new URLSearchParams({ u: user });
  for (const route of routes) q.append('r', JSON.stringify(route));
  return q.toString();
}

/**
 * Internal error text a response body must never show: the resolver's message, error class names
 * with a message, stack frames, source positions, eventrail's own refusal messages and codes.
 */
export const LEAKY =
  /resolver-secret|EventrailError|\w+Error:|\bat \S+ \(|\.[jt]s:\d+|invalid-|must be/;

/** The nonce a test embeds in every payload: `<<v12>>` (valid publish), `<<r3>>` (raw), `<<h7>>`. */
export const NONCE = /<<([vrh]\d+)>>/;
