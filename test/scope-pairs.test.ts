/**
 * Pairs of scopes that Redis could confuse, on a real Redis in both channel modes (issue 25,
 * items 3 and 5):
 *
 * - the surrogate pair: `org:acme\uD800` and `org:acme\uFFFD` are the same bytes in Redis
 *   (node-redis writes U+FFFD for a lone surrogate); the first is refused as a route and as a
 *   channel, so the "attacker" gets neither the victim's replay nor its live events;
 * - entries that are not the scope's own (another scope's channel, a channel with an extra `:`),
 *   planted in its history or published raw on its pattern or shard channel, are neither replayed
 *   nor delivered live;
 * - the prefix-overlap pair: an app with prefix `''` routed to `billing:gym:*` and an app with
 *   prefix `billing:` routed to `gym:1:*` on one Redis never see each other's events, live or
 *   replayed.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type ChannelMode, createRedisBroker } from '../src/brokers/redis.js';
import { EventrailError } from '../src/errors.js';
import type { Principal } from '../src/types.js';
import { type RunningApp, startApp } from './helpers/apps.js';
import { connectRaw, type RedisProcess, redisSkipReason, startRedis } from './helpers/redis.js';
import { rawPublishArgs } from './helpers/redis-brokers.js';
import { openRaw, type RawStream, waitFor } from './helpers/sse.js';

const VICTIM = 'org:acme\uFFFD';
const ATTACKER = 'org:acme\uD800';

/** A principal whose one route is chosen by `?who=` in code (a lone surrogate has no URL form). */
interface Chosen extends Principal {
  readonly route: string;
}

/** `?who=<name>` -> the route `routes[name]`. */
const chosen = (routes: Record<string, string>) => ({
  resolver(request: { url: URL }): Chosen {
    const who = request.url.searchParams.get('who') ?? '';
    return { userId: who, scopeId: who, route: routes[who] ?? 'none:none:none' };
  },
  router: (principal: Chosen) => [principal.route],
});

/** The data of a stream's events, hello excluded. */
const data = (s: RawStream): string[] =>
  s.events.filter((e) => e.event !== 'eventrail.connected').map((e) => e.data);
const helloId = async (s: RawStream): Promise<string> => {
  await waitFor(() => s.events.some((e) => e.event === 'eventrail.connected'), 'the hello');
  return s.events.find((e) => e.event === 'eventrail.connected')?.id ?? '';
};
const typed = (code: string) => (e: unknown) => e instanceof EventrailError && e.code === code;

for (const channels of ['pattern', 'sharded'] as const satisfies readonly ChannelMode[]) {
  describe(`scope pairs on one Redis (${channels} channels)`, { skip: redisSkipReason() }, () => {
    const cleanup: Array<() => Promise<void>> = [];
    after(async () => {
      for (const step of cleanup.reverse()) await step();
    });
    let redis: RedisProcess | undefined;
    const theRedis = async (): Promise<RedisProcess> => {
      if (redis === undefined) {
        redis = await startRedis();
        const r = redis;
        cleanup.push(() => r.stop());
      }
      return redis;
    };
    /** An app on its own broker of the shared Redis; errors reported to onError go to `errors`. */
    async function app(
      prefix: string,
      routes: Record<string, string>,
      errors: Error[] = [],
    ): Promise<RunningApp> {
      const { url } = await theRedis();
      const broker = createRedisBroker({ url, channels, prefix, probeIntervalMs: 0 });
      cleanup.push(() => broker.close());
      const running = await startApp('node:http', {
        broker,
        ...chosen(routes),
        hubIdleTimeoutMs: 0,
        hooks: { onError: (e: Error) => void errors.push(e) },
      });
      cleanup.push(() => running.stop());
      return running;
    }
    const publish = (a: RunningApp, channel: string, k: string) =>
      a.sse.publisher.publishEvent(channel, { eventType: 'x.changed', data: k });

    it('refuses the lone-surrogate twin of a scope: no replay, no live event', async () => {
      const errors: Error[] = [];
      const a = await app('', { victim: `${VICTIM}:*`, attacker: `${ATTACKER}:*` }, errors);
      const victim = await openRaw(`${a.url}/events?who=victim`);
      cleanup.push(async () => victim.abort());
      const id = await helloId(victim);
      await publish(a, `${VICTIM}:t`, 'secret-1');
      await waitFor(() => data(victim).length === 1, 'the victim has its event');
      // The attacker, fresh and with the victim's own id: refused like any invalid route.
      for (const headers of [{}, { 'Last-Event-ID': id }] as Record<string, string>[]) {
        const attacker = await openRaw(`${a.url}/events?who=attacker`, { headers });
        cleanup.push(async () => attacker.abort());
        assert.equal(attacker.status, 500, 'a lone surrogate in a route is a router bug');
        await attacker.ended;
        assert.doesNotMatch(attacker.text, /secret/);
      }
      assert.ok(errors.some(typed('invalid-pattern')), 'onError heard invalid-pattern');
      await assert.rejects(publish(a, `${ATTACKER}:t`, 'forged'), typed('invalid-channel'));
      await publish(a, `${VICTIM}:t`, 'secret-2');
      await waitFor(() => data(victim).length === 2, 'the victim has both events');
      assert.deepEqual(data(victim), ['"secret-1"', '"secret-2"']);
    });

    it("replays and delivers only the scope's own channels", async () => {
      const a = await app('', { one: 'gym:1:*' });
      const first = await openRaw(`${a.url}/events?who=one`);
      const id = await helloId(first);
      first.abort();
      const raw = await connectRaw((await theRedis()).port);
      cleanup.push(() => raw.close());
      // Planted in gym:1's history as another program would: another scope's channel, a channel
      // of the scope with an extra `:`, one with an empty topic; then one of its own.
      const stream = 'eventrail:history:{gym:1}';
      for (const channel of ['gym:2:x', 'gym:10:x', 'gym:1:a:b', 'gym:1:', 'gym:1'])
        await raw.command('XADD', stream, '*', 'c', channel, 'p', `{"data":"planted ${channel}"}`);
      await publish(a, 'gym:1:ok', 'own-1');
      const resumed = await openRaw(`${a.url}/events?who=one`, {
        headers: { 'Last-Event-ID': id },
      });
      cleanup.push(async () => resumed.abort());
      await waitFor(() => data(resumed).includes('"own-1"'), 'the replay of own-1');
      // Live: raw publishes that the subscription matches (`gym:1:*` globs `gym:1:a:b`), then one
      // of the scope's own, which arrives after them.
      for (const channel of ['gym:1:a:b', 'gym:1:'])
        await raw.command(...rawPublishArgs(channels, channel, `{"data":"raw ${channel}"}`));
      await publish(a, 'gym:1:ok', 'own-2');
      await waitFor(() => data(resumed).includes('"own-2"'), 'own-2 live');
      assert.deepEqual(data(resumed), ['"own-1"', '"own-2"']);
    });

    it('keeps apps with overlapping prefixes apart, live and replayed', async () => {
      // `billing:gym:*` of the app without a prefix matches `billing:gym:1:students` in Redis.
      const plain = await app('', { p: 'billing:gym:*' });
      const billing = await app('billing:', { b: 'gym:1:*' });
      const p = await openRaw(`${plain.url}/events?who=p`);
      const b = await openRaw(`${billing.url}/events?who=b`);
      cleanup.push(async () => p.abort());
      cleanup.push(async () => b.abort());
      const pId = await helloId(p);
      await helloId(b);
      await publish(billing, 'gym:1:students', 'billing-1');
      await publish(plain, 'billing:gym:students', 'plain-1');
      await waitFor(() => data(p).length >= 1 && data(b).length >= 1, 'an event at each');
      // Each app's own event was published after the other's: had it crossed, it would be here.
      await publish(billing, 'gym:1:students', 'billing-2');
      await publish(plain, 'billing:gym:students', 'plain-2');
      await waitFor(() => data(p).includes('"plain-2"') && data(b).includes('"billing-2"'), 'all');
      assert.deepEqual(data(p), ['"plain-1"', '"plain-2"']);
      assert.deepEqual(data(b), ['"billing-1"', '"billing-2"']);
      // A replay of the app without a prefix reads its own history only.
      p.abort();
      const again = await openRaw(`${plain.url}/events?who=p`, {
        headers: { 'Last-Event-ID': pId },
      });
      cleanup.push(async () => again.abort());
      await waitFor(() => data(again).includes('"plain-2"'), 'the replay');
      assert.deepEqual(data(again), ['"plain-1"', '"plain-2"']);
    });
  });
}

describe('the Redis broker prefix rule', () => {
  it("refuses prefixes that do not end with ':' (they could overlap another app's)", async () => {
    // `x` + `gym:1:a` is the channel `xgym:1:a` of the app without a prefix.
    const url = 'redis://127.0.0.1:1';
    for (const prefix of ['x', 'billing', 'a:b']) {
      for (const options of [
        { url, prefix },
        { url, historyKeyPrefix: prefix },
      ]) {
        let made: { close(): Promise<void> } | undefined;
        try {
          assert.throws(
            () => {
              made = createRedisBroker(options);
            },
            typed('invalid-option'),
            JSON.stringify(options),
          );
        } finally {
          await made?.close();
        }
      }
    }
    // Empty, or ending with ':', as before.
    for (const prefix of ['', 'billing:', 'a:b:'])
      await createRedisBroker({ url, prefix, historyKeyPrefix: `${prefix}h:` }).close();
  });
});
