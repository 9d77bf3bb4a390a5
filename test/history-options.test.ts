/**
 * The history's options, end to end: `history: false` (no ids, nothing stored: a plain PUBLISH on
 * Redis) and the memory broker's `historyTtlMs` (an entry older than it no longer resumes: the
 * client that comes back with it gets one resync, not a replay); bounds that are not whole
 * numbers >= 1 are refused up front.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryHistory, SWEEP_PER_OPERATION } from '../src/brokers/history-store.js';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createRedisBroker } from '../src/brokers/redis.js';
import { EventrailError } from '../src/errors.js';
import type { Broker, HistoryPosition } from '../src/types.js';
import { queryResolver, queryRouter, startApp } from './helpers/apps.js';
import { type RedisProcess, redisCommand, redisSkipReason, startRedis } from './helpers/redis.js';
import { openRaw, sleep, waitFor } from './helpers/sse.js';

/** The id of a history position (a plain id or an id with its epoch). */
const idOf = (position: string | HistoryPosition): string =>
  typeof position === 'string' ? position : position.id;

async function serve(broker: Broker) {
  return startApp('node:http', { broker, resolver: queryResolver, router: queryRouter });
}

describe('history: false', () => {
  let redis: RedisProcess | undefined;
  before(async () => {
    if (!redisSkipReason()) redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  for (const flavour of ['memory', 'redis'] as const) {
    it(`events carry no id and nothing is stored (${flavour} broker)`, {
      skip: flavour === 'redis' ? redisSkipReason() : undefined,
    }, async () => {
      const broker =
        flavour === 'redis' && redis
          ? createRedisBroker({ url: redis.url, history: false })
          : createMemoryBroker({ history: false });
      assert.equal(broker.history, undefined);
      const app = await serve(broker);
      const s = await openRaw(`${app.url}/events`);
      await waitFor(() => s.events.length === 1, 'connected');
      await app.sse.publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: 1 });
      await waitFor(() => s.events.length === 2, 'the event');
      assert.deepEqual(
        s.events.map((e) => [e.event, e.id]),
        [
          ['eventrail.connected', undefined],
          ['x.y', undefined],
        ],
      );
      assert.doesNotMatch(s.text, /^id:/m);
      assert.equal(s.events[1]?.data, '1', 'the payload as published, no eventrail_id');
      if (redis) assert.equal(await redisCommand(redis.port, 'DBSIZE'), 0, 'no key in Redis');
      s.abort();
      await app.stop();
      await broker.close();
    });
  }
});

describe('historyTtlMs (memory broker)', () => {
  for (const [ttl, outcome] of [
    [60_000, 'replays what was missed'],
    [100, 'resyncs once the entry is older than the TTL'],
  ] as const) {
    it(`historyTtlMs ${ttl}: a client that comes back ${outcome}`, async () => {
      const broker = createMemoryBroker({ historyTtlMs: ttl });
      const app = await serve(broker);
      const first = await openRaw(`${app.url}/events`);
      await app.sse.publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: 'seen' });
      await waitFor(() => first.events.length === 2, 'the first event');
      const lastId = first.events[1]?.id ?? '';
      first.abort();
      // At least this long: the seen entry is then past a 100 ms TTL (a slower machine only
      // makes it older).
      await sleep(250);
      await app.sse.publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: 'missed' });
      const back = await openRaw(`${app.url}/events`, { headers: { 'Last-Event-ID': lastId } });
      await waitFor(() => back.events.length === 2, 'the answer to the id');
      const second = back.events[1];
      if (ttl === 100) assert.equal(second?.event, 'eventrail.resync');
      else assert.deepEqual([second?.event, second?.data], ['x.y', '"missed"']);
      back.abort();
      await app.stop();
      await broker.close();
    });
  }
});

describe('idle scopes expire (memory broker)', () => {
  it('a scope whose entries all expired is dropped by later work on other scopes', async () => {
    const ttl = 100;
    const history = createMemoryHistory({ historySize: 10, historyTtlMs: ttl }, () => {});
    const idle = 100;
    const ids: string[] = [];
    for (let i = 0; i < idle; i++) ids.push(await history.append(`gym:${i}`, `gym:${i}:a`, '{}'));
    assert.equal(history.scopeCount, idle);
    const storedAt = Date.now();
    // One scope stays busy; the others are never touched again.
    let afterExpiry = 0;
    await waitFor(async () => {
      if (Date.now() > storedAt + ttl + 1) afterExpiry++;
      await history.append('busy:1', 'busy:1:a', '{}');
      return history.scopeCount === 1;
    }, 'every idle scope dropped');
    assert.ok(Date.now() - storedAt >= ttl, 'nothing went before its TTL');
    // Bounded work: each operation looks at SWEEP_PER_OPERATION scopes, so once they had expired
    // the idle ones went within one pass over all of them.
    const pass = Math.ceil((idle + 1) / SWEEP_PER_OPERATION) + 1;
    assert.ok(afterExpiry <= pass, `${afterExpiry} operations after the expiry, over ${pass}`);
    assert.ok(
      (await history.readSince('gym:0', ids[0] as string)) === null,
      'an id of a dropped scope resyncs',
    );
    assert.notEqual(
      await history.readSince('busy:1', idOf(await history.position('busy:1'))),
      null,
    );
  });

  it('a scope with an entry younger than the TTL stays', async () => {
    const history = createMemoryHistory({ historySize: 10, historyTtlMs: 60_000 }, () => {});
    const id = await history.append('gym:1', 'gym:1:a', '{}');
    for (let i = 0; i < 50; i++) await history.append(`org:${i}`, `org:${i}:a`, '{}');
    assert.equal(history.scopeCount, 51);
    assert.deepEqual(await history.readSince('gym:1', id), []);
  });
});

describe('history bounds (memory broker)', () => {
  it('refuses a bound that is not a whole number >= 1 with invalid-option', () => {
    for (const name of ['historySize', 'historyTtlMs'])
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '10']) {
        assert.throws(
          () => createMemoryBroker({ [name]: bad }),
          (e) => e instanceof EventrailError && e.code === 'invalid-option',
          `${name}: ${String(bad)}`,
        );
      }
    // Without a history there is nothing to bound; no options at all is the defaults.
    assert.doesNotThrow(() => createMemoryBroker({ history: false, historySize: 0 }));
    assert.ok(createMemoryBroker(null as unknown as undefined).history);
  });
});
