/**
 * Values of any shape for the publish-path fuzz, each with what publishing it must do, and odd
 * bytes for the request and broker paths.
 */
import { randomText } from './random.js';
import { HOSTILE_TYPES, hostileChannel, int, pick, type Random, randomChannel } from './tenants.js';

/** `ok`: must resolve; `typed`: must reject with an EventrailError; `either`: one of the two. */
export type Outcome = 'ok' | 'typed' | 'either';

/** An object on which every operation throws `message`. */
export function throwingProxy(message: string): object {
  const fail = (): never => {
    throw new Error(message);
  };
  return new Proxy({}, { get: fail, has: fail, ownKeys: fail, getOwnPropertyDescriptor: fail });
}

/** A proxy whose every use throws a TypeError. */
export function revokedProxy(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

/** `[[[...]]]`, `depth` levels deep, built without recursion. */
export function deepArray(depth: number): unknown[] {
  let value: unknown[] = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** Strings with lone surrogates, controls, SSE and JSON look-alikes, or plain random text. */
export function oddString(random: Random): string {
  return pick(random, [
    randomText(random, 300),
    '\ud800',
    'a\udfffb',
    '\u0000',
    '\r\n\r\nevent: x\ndata: y\n\n',
    '{"event_type":"x"}',
    ',"eventrail_id":"1-1"}',
    '\ufeffbom',
    'x'.repeat(int(random, 0, 5000)),
  ]);
}

/** Event data of any shape, with what publishing it must do. `secret` goes into every throw. */
export function anyData(random: Random, secret: string): [unknown, Outcome] {
  // Thunks: only the value picked is built (some are large).
  const fine: Array<() => unknown> = [
    () => undefined,
    () => null,
    () => true,
    () => pick(random, [0, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e308]),
    () => oddString(random),
    () => ({ a: [1, { b: oddString(random) }], u: undefined }),
    () => [undefined, () => 1, Symbol('s')],
    () => pick(random, [new Date(), new Date(Number.NaN), new Map([[1, 2]]), /re/g, Array(3)]),
    () => deepArray(int(random, 1, 500)),
    () => Object.assign(Object.create(null) as object, { k: 'v' }),
    () => ({ toJSON: () => 'replaced' }),
  ];
  const thrower = () => {
    throw new Error(secret);
  };
  const bad: Array<() => unknown> = [
    () => pick(random, [1n, { n: [2n] }]),
    () => Symbol(secret),
    () => () => secret,
    () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      return cyclic;
    },
    () => ({ toJSON: thrower }),
    () => ({ toJSON: () => undefined }),
    () => Object.defineProperty({}, 'boom', { get: thrower, enumerable: true }),
    () => throwingProxy(secret),
    () => revokedProxy(),
    () => deepArray(200_000),
  ];
  const r = random();
  if (r < 0.6) return [pick(random, fine)(), 'ok'];
  if (r < 0.97) return [pick(random, bad)(), 'typed'];
  // Large but serialisable: over maxPayloadBytes today (a typed refusal), accepted under it.
  return [random() < 0.5 ? 'x'.repeat(int(random, 1e5, 2e6)) : Array(50_000).fill('abc'), 'either'];
}

/** Anything but a string. */
function notAString(random: Random, secret: string): unknown {
  return pick(random, [
    undefined,
    null,
    42,
    7n,
    Symbol(secret),
    ['gym', '1', 'a'],
    { toString: () => 'gym:1:a' },
    throwingProxy(secret),
    revokedProxy(),
    () => 'gym:1:a',
  ]);
}

/** One random publish call: `publishEvent(channel, event)`, and what it must do. */
export interface PublishCase {
  readonly channel: unknown;
  readonly event: unknown;
  readonly outcome: Outcome;
}

export function publishCase(random: Random, secret: string): PublishCase {
  const r = random();
  const channelOk = r < 0.7;
  const channel = channelOk
    ? randomChannel(random)
    : r < 0.9
      ? hostileChannel(random)
      : notAString(random, secret);
  const t = random();
  const validTypes = ['a.b', 'students.changed', 'é.漢字😀', 'x'.repeat(256), 'eventrails.x'];
  const eventType =
    t < 0.7
      ? pick(random, validTypes)
      : t < 0.9
        ? pick(random, [...HOSTILE_TYPES, 'x'.repeat(1e5)])
        : notAString(random, secret);
  const [data, dataOutcome] = anyData(random, secret);
  const o = random();
  const origin =
    o < 0.7
      ? undefined
      : o < 0.85
        ? 'Ab_-9'
        : pick(random, ['', 'a b', 'x'.repeat(129), 5, '\n', 9n]);
  const typed = !channelOk || t >= 0.7 || dataOutcome === 'typed' || o >= 0.85;
  const outcome: Outcome = typed ? 'typed' : dataOutcome;
  const c = random();
  if (c < 0.9) {
    const event = origin === undefined ? { eventType, data } : { eventType, data, origin };
    return { channel, event, outcome };
  }
  if (c < 0.95) {
    const event = pick(random, [null, undefined, 'x', 7]);
    return { channel, event, outcome: 'typed' };
  }
  const getter = () => {
    throw new Error(secret);
  };
  const event =
    random() < 0.5
      ? throwingProxy(secret)
      : Object.defineProperty({}, 'eventType', { get: getter, enumerable: true });
  return { channel, event, outcome: 'typed' };
}

/** `length` random bytes, often invalid UTF-8. */
export function randomBytes(random: Random, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}
