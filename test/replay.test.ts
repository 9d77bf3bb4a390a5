/**
 * Replay after a reconnect, in the cases resume.test.ts does not reach: one Last-Event-ID that
 * covers several scopes, and live events that arrive while the replay runs (held back, then
 * written after it, with no gap and no duplicate). The second is made deterministic by a broker
 * whose history read waits for the test: the live events are published while it waits. And
 * replays are not traced: only live deliveries open a delivery span.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createRedisBroker } from '../src/brokers/redis.js';
import type { EventTracing } from '../src/tracing.js';
import type { Broker, BrokerHistory } from '../src/types.js';
import { queryResolver, queryRouter, type RunningApp, startApp } from './helpers/apps.js';
import { type RedisProcess, redisSkipReason, startRedis } from './helpers/redis.js';
import { openRaw, type RawStream, waitFor } from './helpers/sse.js';

const payloadEvents = (s: RawStream) => s.events.filter((e) => e.event !== 'eventrail.connected');

/** A promise and what settles it (Promise.withResolvers is Node 22). */
function deferred() {
  let resolve = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A broker whose history reads can be made to wait, before or after they read. */
function gated(broker: Broker, history: BrokerHistory) {
  const gate = {
    /** When set, the next read waits for `release` (reading first when `readFirst`). */
    armed: undefined as undefined | { readFirst: boolean },
    entered: deferred(),
    release: deferred(),
  };
  const wrapped: Broker = {
    subscribe: (pattern, onMessage, onGap) => broker.subscribe(pattern, onMessage, onGap),
    publish: (channel, payload) => broker.publish(channel, payload),
    close: () => broker.close(),
    history: {
      append: (scopeKey, channel, payload) => history.append(scopeKey, channel, payload),
      position: (scopeKey) => history.position(scopeKey),
      async readSince(scopeKey, afterId, limit) {
        const armed = gate.armed;
        gate.armed = undefined;
        if (armed === undefined) return history.readSince(scopeKey, afterId, limit);
        const read = armed.readFirst
          ? await history.readSince(scopeKey, afterId, limit)
          : undefined;
        gate.entered.resolve();
        await gate.release.promise;
        return read === undefined ? history.readSince(scopeKey, afterId, limit) : read;
      },
    },
  };
  return { wrapped, gate };
}

for (const flavour of ['memory', 'redis'] as const) {
  describe(`replay (${flavour} broker)`, {
    skip: flavour === 'redis' ? redisSkipReason() : undefined,
  }, () => {
    let redis: RedisProcess | undefined;
    let broker: Broker;
    let app: RunningApp;
    let control: ReturnType<typeof gated>['gate'];
    /** The channel of every event the tracer was asked to open a delivery span for. */
    const traced: string[] = [];
    const tracing: EventTracing = {
      publish: (_info, send) => send(undefined),
      deliver(info, deliver) {
        traced.push(info.channel);
        deliver();
      },
    };

    before(async () => {
      if (flavour === 'redis') redis = await startRedis();
      broker = redis ? createRedisBroker({ url: redis.url }) : createMemoryBroker();
      const { wrapped, gate } = gated(broker, broker.history as BrokerHistory);
      control = gate;
      app = await startApp('node:http', {
        broker: wrapped,
        resolver: queryResolver,
        router: queryRouter,
        tracing,
      });
    });
    after(async () => {
      await app.stop();
      await broker.close();
      await redis?.stop();
    });

    const publish = (channel: string, data: string) =>
      app.sse.publisher.publishEvent(channel, { eventType: 'x.y', data });

    it('resumes several scopes from one Last-Event-ID: each scope exactly what it missed', async () => {
      const routes = ['gym:11:a', 'gym:12:a', 'gym:13:a'].map((r) => `route=${r}`).join('&');
      const url = `${app.url}/events?${routes}`;
      // Stays connected throughout: every publish reaches (and is traced on) the hubs before the
      // reconnect, so what is traced after it is the reconnect's own doing.
      const observer = await openRaw(url);
      const first = await openRaw(url);
      await publish('gym:11:a', 'before');
      await waitFor(() => payloadEvents(first).length === 1, 'the first event');
      const lastId = first.events.at(-1)?.id ?? '';
      first.abort();
      const missed = ['12-1', '11-1', '13-1', '11-2', '12-2'];
      for (const data of missed) await publish(`gym:${data.slice(0, 2)}:a`, data);
      await waitFor(() => payloadEvents(observer).length === missed.length + 1, 'all live');
      const replayed = app.sse.stats().replayed;
      traced.length = 0;
      const back = await openRaw(url, { headers: { 'Last-Event-ID': lastId } });
      await waitFor(() => payloadEvents(back).length === missed.length, 'the missed events');
      await publish('gym:13:a', 'live');
      await waitFor(() => payloadEvents(back).length === missed.length + 1, 'the live event');
      const got = payloadEvents(back).map((e) => JSON.parse(e.data) as string);
      assert.equal(got.at(-1), 'live');
      assert.deepEqual([...got.slice(0, -1)].sort(), [...missed].sort(), 'each missed event once');
      for (const scope of ['11', '12', '13'])
        assert.deepEqual(
          got.filter((d) => d.startsWith(scope)),
          missed.filter((d) => d.startsWith(scope)),
          `scope ${scope} in order`,
        );
      assert.equal(app.sse.stats().replayed - replayed, missed.length, 'replayed, not live');
      assert.equal(traced.length, 1, 'the live delivery is traced, not the replay');
      back.abort();
      observer.abort();
    });

    for (const readFirst of [true, false]) {
      const when = readFirst ? 'after the replay read the history' : 'before it reads';
      it(`holds back live events published during a replay (${when}), then writes them once`, async () => {
        const url = `${app.url}/events?scope=14`;
        const first = await openRaw(url);
        await publish('gym:14:a', '0');
        await waitFor(() => payloadEvents(first).length === 1, 'the first event');
        const lastId = first.events.at(-1)?.id ?? '';
        first.abort();
        for (const n of ['1', '2', '3']) await publish('gym:14:b', n);
        control.entered = deferred();
        control.release = deferred();
        control.armed = { readFirst };
        const back = await openRaw(url, { headers: { 'Last-Event-ID': lastId } });
        await control.entered.promise;
        // The replay is running: these arrive live and must wait behind it. They are told apart
        // by channel: the server may learn of `first`'s end only now, so 1-3 (on gym:14:b) can
        // still reach the hub live at any time; the replay must not write them twice.
        traced.length = 0;
        for (const n of ['4', '5']) await publish('gym:14:a', n);
        await waitFor(
          () => traced.filter((c) => c === 'gym:14:a').length === 2,
          'the live events at the hub',
        );
        assert.deepEqual(payloadEvents(back), [], 'nothing written while the replay runs');
        control.release.resolve();
        await waitFor(() => payloadEvents(back).length >= 5, 'replay, then the held events');
        await publish('gym:14:a', '6');
        await waitFor(() => payloadEvents(back).length >= 6, 'live again');
        assert.deepEqual(
          payloadEvents(back).map((e) => e.data),
          ['"1"', '"2"', '"3"', '"4"', '"5"', '"6"'],
        );
        back.abort();
      });
    }
  });
}
