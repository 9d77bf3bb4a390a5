/**
 * The fleet: revocation and presence across instances, on the memory broker (instances in one
 * process), one Redis in both channel modes, and a Redis Cluster. Instances are real HTTP servers
 * on port 0, each with its own broker (its own Redis connections); the revoking process is a
 * standalone publisher on a broker of its own.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { type ChannelMode, createRedisBroker } from '../src/brokers/redis.js';
import { createPublisher, type SseServerOptions, type StandalonePublisher } from '../src/index.js';
import type { Broker, Principal } from '../src/types.js';
import { type RunningApp, startApp } from './helpers/apps.js';
import { REDIS_CLUSTER_MS } from './helpers/budgets.js';
import {
  type RedisClusterProcess,
  type RedisProcess,
  redisCli,
  redisSkipReason,
  startRedis,
  startRedisCluster,
} from './helpers/redis.js';
import { openRaw, openSource, type RawStream, WAIT_FOR_MS, waitFor } from './helpers/sse.js';
import { stopwatch } from './helpers/stopwatch.js';
import { callsBetween, commandCalls } from './helpers/storm.js';

interface SessionPrincipal extends Principal {
  readonly session: string;
}

/** The sessions the resolvers read (`?session=`), shared by every instance: the app's store. */
const sessions = new Map<string, { userId: string; scopeId: string }>();

function resolver(request: { url: URL }): SessionPrincipal {
  const session = request.url.searchParams.get('session') ?? '';
  const found = sessions.get(session);
  if (found === undefined) throw new Error('no such session');
  return { ...found, session };
}

const router = (p: SessionPrincipal): readonly string[] => [`gym:${p.scopeId}:*`];

/** Resolves when every stream has ended; fails after {@link WAIT_FOR_MS} (a hang, not a latency). */
async function end(what: string, ...streams: RawStream[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out waiting for ${what} to end`)),
      WAIT_FOR_MS,
    );
  });
  try {
    await Promise.race([Promise.all(streams.map((s) => s.ended)), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Where the instances' brokers come from. */
interface Topology {
  /** A broker for one instance (or the revoking process). */
  broker(prefix?: string): Broker;
  /** Closes what `broker()` made that the instances do not close themselves. */
  release(): Promise<void>;
}

type Extra = Partial<SseServerOptions<SessionPrincipal>>;

/** Runs the fleet suite on the brokers `setup` makes. */
function fleetSuite(
  name: string,
  setup: () => Promise<Topology>,
  skip?: string,
  more?: (ctx: SuiteContext) => void,
): void {
  describe(`the fleet (${name})`, { skip }, () => {
    let topology: Topology;
    const apps: RunningApp[] = [];
    const brokers: Broker[] = [];
    let publisher: StandalonePublisher;
    let next = 0;

    before(
      async () => {
        topology = await setup();
        publisher = createPublisher({ broker: topology.broker() });
      },
      { timeout: REDIS_CLUSTER_MS },
    );
    after(async () => {
      for (const app of apps) await app.stop();
      for (const broker of brokers) await broker.close();
      await publisher?.close();
      await topology?.release();
    });

    /** Starts `n` instances, each on a broker of its own. */
    async function instances(n: number, extra: Extra = {}, prefix?: string): Promise<RunningApp[]> {
      const started: RunningApp[] = [];
      for (let i = 0; i < n; i++) {
        const broker = topology.broker(prefix);
        brokers.push(broker);
        const app = await startApp<SessionPrincipal>('node:http', {
          broker,
          resolver,
          router,
          revocationKeys: (p) => [`session:${p.session}`],
          ...extra,
        });
        apps.push(app);
        started.push(app);
      }
      return started;
    }

    /** A new session of `userId` in gym `scopeId`; its token. */
    function session(userId: string, scopeId = '1'): string {
      const token = `${name.replace(/\W/g, '')}-${next++}`;
      sessions.set(token, { userId, scopeId });
      return token;
    }

    async function stream(app: RunningApp, token: string): Promise<RawStream> {
      const raw = await openRaw(`${app.url}/events?session=${token}`);
      assert.equal(raw.status, 200);
      await waitFor(() => raw.events.some((e) => e.event === 'eventrail.connected'), 'the hello');
      return raw;
    }

    const ended = (raw: RawStream): Promise<boolean> =>
      Promise.race([
        raw.ended.then(() => true),
        new Promise<boolean>((r) => setImmediate(r, false)),
      ]);

    it('a revocation of a user reaches its streams on two other instances within a second, and no one else', async () => {
      const [b, c] = await instances(2);
      const alice = session('alice');
      const bob = session('bob');
      const aliceElsewhere = session('alice', '2');
      const targets = [await stream(b as RunningApp, alice), await stream(c as RunningApp, alice)];
      const others = [
        await stream(b as RunningApp, bob),
        await stream(c as RunningApp, bob),
        await stream(b as RunningApp, aliceElsewhere),
      ];
      const watch = stopwatch();
      await publisher.revoke({ scope: 'gym:1', userId: 'alice' });
      await end('the revoked streams', ...targets);
      const ms = watch.within(1000, 'the revocation reaching two instances');
      console.log(`${name}: revocation reached 2 streams on 2 instances in ${ms.toFixed(1)} ms`);
      // The others still receive: an event after the revocation arrives on each.
      await publisher.publishType('gym:1:x', 'x.changed');
      await publisher.publishType('gym:2:x', 'x.changed');
      for (const raw of others) {
        await waitFor(() => raw.events.some((e) => e.event === 'x.changed'), 'an event after it');
        assert.equal(await ended(raw), false);
      }
      assert.equal(b?.sse.stats().disconnects.revoked, 1);
      for (const raw of others) raw.abort();
    });

    it("a revoked user's reconnect is refused (401) once its session is gone", async () => {
      const [b] = await instances(1);
      const token = session('carol');
      const source = openSource(`${(b as RunningApp).url}/events?session=${token}`);
      await source.opened;
      sessions.delete(token);
      await publisher.revoke({ scope: 'gym:1', userId: 'carol' });
      await waitFor(() => source.errors.some((e) => e.code === 401), 'a 401 on the reconnect');
      source.close();
    });

    it('revokes by key, by connection and by scope', async () => {
      const [b, c] = await instances(2);
      const one = session('dave');
      const two = session('dave');
      const byKey = [await stream(b as RunningApp, one), await stream(c as RunningApp, one)];
      const sameUser = await stream(c as RunningApp, two);
      await publisher.revoke({ scope: 'gym:1', key: `session:${one}` });
      await end('the streams of the key', ...byKey);
      const single = await stream(b as RunningApp, two);
      const id = JSON.parse(single.events[0]?.data ?? '{}').connectionId as string;
      await publisher.revoke({ scope: 'gym:1', connectionId: id });
      await end('the revoked connection', single);
      assert.equal(await ended(sameUser), false);
      const elsewhere = await stream(b as RunningApp, session('erin', '2'));
      await publisher.revoke({ scope: 'gym:1' });
      await end('the scope', sameUser);
      await publisher.publishType('gym:2:x', 'x.changed');
      await waitFor(() => elsewhere.events.some((e) => e.event === 'x.changed'), 'gym 2 live');
      assert.equal(await ended(elsewhere), false);
      elsewhere.abort();
    });

    it('the re-authorization interval closes a stream whose session was deleted', async () => {
      const [b] = await instances(1, { reauthorizeIntervalMs: 100 });
      const gone = session('frank');
      const kept = session('grace');
      const closing = await stream(b as RunningApp, gone);
      const staying = await stream(b as RunningApp, kept);
      sessions.delete(gone);
      await end('the stream of the deleted session', closing);
      await publisher.publishType('gym:1:x', 'x.changed');
      await waitFor(
        () => staying.events.some((e) => e.event === 'x.changed'),
        'the kept stream live',
      );
      assert.equal(await ended(staying), false);
      staying.abort();
    });

    it('presence counts a user with three tabs on two instances once', async () => {
      const [a, b] = await instances(2, {
        presence: { intervalMs: 200, events: true, debounceMs: 50 },
      });
      const heidi = session('heidi');
      const ivan = session('ivan');
      const tabs = [
        await stream(a as RunningApp, heidi),
        await stream(a as RunningApp, heidi),
        await stream(b as RunningApp, heidi),
      ];
      const other = await stream(b as RunningApp, ivan);
      const users = async () => (await (a as RunningApp).sse.presence('gym:1')).users.join();
      await waitFor(async () => (await users()) === 'heidi,ivan', 'heidi and ivan present');
      const seen = await (b as RunningApp).sse.presence('gym:1');
      assert.deepEqual(seen, { scope: 'gym:1', count: 2, users: ['heidi', 'ivan'] });
      // The event reaches the streams: the newest says both.
      await waitFor(
        () =>
          other.events.filter((e) => e.event === 'eventrail.presence').at(-1)?.data ===
          '{"scope":"gym:1","count":2,"users":["heidi","ivan"]}',
        'the presence event',
      );
      (tabs[0] as RawStream).abort();
      (tabs[2] as RawStream).abort();
      await waitFor(
        () =>
          (a as RunningApp).sse.stats().connections === 1 &&
          (b as RunningApp).sse.stats().connections === 1,
        'two tabs gone',
      );
      // A marker joins each instance after the leaves: once both show, the leaves are written.
      const markers = [
        await stream(a as RunningApp, session('mark-a')),
        await stream(b as RunningApp, session('mark-b')),
      ];
      await waitFor(async () => (await users()).includes('mark-a,mark-b'), 'the markers');
      assert.equal(await users(), 'heidi,ivan,mark-a,mark-b');
      for (const marker of markers) marker.abort();
      (tabs[1] as RawStream).abort();
      await waitFor(async () => (await users()) === 'ivan', 'heidi gone');
      other.abort();
      await waitFor(async () => (await users()) === '', 'everyone gone');
    });

    more?.({ instances, session, stream, publisher: () => publisher });
  });
}

/** What a topology's own tests get from the suite. */
interface SuiteContext {
  instances(n: number, extra?: Extra, prefix?: string): Promise<RunningApp[]>;
  session(userId: string, scopeId?: string): string;
  stream(app: RunningApp, token: string): Promise<RawStream>;
  publisher(): StandalonePublisher;
}

/** Starts test/fixtures/presence-instance.ts; resolves its URL and the child. */
async function startChild(
  env: Record<string, string>,
): Promise<{ url: string; child: ReturnType<typeof spawn> }> {
  const child = spawn(
    process.execPath,
    ['--conditions=eventrail-src', '--import', 'tsx', 'test/fixtures/presence-instance.ts'],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  after(() => void child.kill('SIGKILL'));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d) => {
      output += d;
      const found = /listening (\S+)/.exec(output);
      if (found) resolve(found[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`the instance exited (${code}): ${output}`)));
  });
  return { url, child };
}

/** Tests that need a real Redis of their own: an instance killed, a storm of joins, prefixes. */
function redisOnly(redisUrl: () => Promise<string>, channels: ChannelMode) {
  return ({ instances, session, stream, publisher }: SuiteContext): void => {
    it('an instance killed with SIGKILL leaves the presence within 3 × intervalMs', async () => {
      const intervalMs = 200;
      const bound = 3 * intervalMs;
      const [reader] = await instances(1, { presence: { intervalMs } });
      const child = await startChild({
        REDIS_URL: await redisUrl(),
        CHANNELS: channels,
        INTERVAL_MS: String(intervalMs),
      });
      const raw = await openRaw(`${child.url}/events?user=kim`);
      await waitFor(() => raw.events.some((e) => e.event === 'eventrail.connected'), 'the hello');
      const users = async () => (await (reader as RunningApp).sse.presence('gym:1')).users;
      await waitFor(async () => (await users()).includes('kim'), 'kim present');
      child.child.kill('SIGKILL');
      const killed = Date.now();
      // Polled until the bound to see when it left (reported); then, from the bound on, Redis's
      // own expiry guarantees it: a read started after it must not show kim, however busy we are.
      let gone: number | undefined;
      while (gone === undefined && Date.now() - killed < bound) {
        if (!(await users()).includes('kim')) gone = Date.now() - killed;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, killed + bound - Date.now())));
      assert.ok(!(await users()).includes('kim'), `kim still present ${bound} ms after the kill`);
      console.log(
        `${channels}: a SIGKILLed instance's user left the presence ${gone ?? `> ${bound}`} ms after the kill (bound ${bound} ms)`,
      );
      raw.abort();
    });

    // Once, in the pattern mode: the debounce does not depend on the channel mode (not defined
    // in the sharded one rather than counted as skipped).
    if (channels === 'pattern')
      it('1,000 joins make at most one presence event per debounce window', async () => {
        const debounceMs = 250;
        // The members' instance writes no events (a thousand streams each told a hundred times
        // is what the option costs, not what this test is about); the watcher's does.
        const [watching] = await instances(1, {
          presence: { intervalMs: 5000, events: true, debounceMs },
        });
        const [joining] = await instances(1, { presence: { intervalMs: 5000, debounceMs } });
        const watcher = await stream(watching as RunningApp, session('watcher'));
        const tokens = Array.from({ length: 1000 }, (_, i) => session(`member-${i}`));
        const started = Date.now();
        const streams: RawStream[] = [];
        for (let i = 0; i < tokens.length; i += 100) {
          const batch = tokens.slice(i, i + 100);
          streams.push(
            ...(await Promise.all(
              batch.map((t) => openRaw(`${(joining as RunningApp).url}/events?session=${t}`)),
            )),
          );
        }
        const presenceEvents = () => watcher.events.filter((e) => e.event === 'eventrail.presence');
        await waitFor(
          () => presenceEvents().some((e) => JSON.parse(e.data).count === 1001),
          'all 1,001 present',
          60_000,
        );
        const tookMs = Date.now() - started;
        const events = presenceEvents().length;
        const limit = Math.ceil(tookMs / debounceMs) + 1;
        console.log(
          `${channels}: 1,000 joins in ${tookMs} ms made ${events} presence events (at most ${limit})`,
        );
        assert.ok(events <= limit, `${events} presence events for 1,000 joins in ${tookMs} ms`);
        const last = JSON.parse(presenceEvents().at(-1)?.data ?? '{}');
        assert.equal(last.users.length, 100, 'the roster is bounded');
        for (const raw of streams) raw.abort();
        watcher.abort();
      });

    it('no revocation nor presence crosses prefixes', async () => {
      const presence = { intervalMs: 200 };
      const [plain] = await instances(1, { presence });
      const [org] = await instances(1, { presence }, 'org:');
      const lena = session('lena');
      const here = await stream(plain as RunningApp, lena);
      const there = await stream(org as RunningApp, lena);
      await waitFor(
        async () => (await (plain as RunningApp).sse.presence('gym:1')).users.includes('lena'),
        'lena',
      );
      await waitFor(
        async () => (await (org as RunningApp).sse.presence('gym:1')).users.includes('lena'),
        'lena in org:',
      );
      here.abort();
      await waitFor(
        async () => !(await (plain as RunningApp).sse.presence('gym:1')).users.includes('lena'),
        'lena left',
      );
      assert.deepEqual((await (org as RunningApp).sse.presence('gym:1')).users, ['lena']);
      // The publisher of the first application revokes everyone in gym 1: not the other's.
      const mine = await stream(plain as RunningApp, lena);
      await publisher().revoke({ scope: 'gym:1' });
      await end('the revoked stream', mine);
      await (org as RunningApp).sse.publisher.publishType('gym:1:x', 'x.changed');
      await waitFor(() => there.events.some((e) => e.event === 'x.changed'), 'org: still live');
      there.abort();
    });
  };
}

fleetSuite('memory', async () => {
  const broker = createMemoryBroker();
  // One process: every instance shares the broker; none may close it.
  const shared: Broker = { ...broker, close: async () => {} };
  return { broker: () => shared, release: () => broker.close() };
});

let redis: Promise<RedisProcess> | undefined;
const oneRedis = (): Promise<RedisProcess> => (redis ??= startRedis());
after(async () => (await redis)?.stop());

for (const channels of ['pattern', 'sharded'] satisfies ChannelMode[]) {
  fleetSuite(
    `Redis, ${channels}`,
    async () => {
      const { url } = await oneRedis();
      return {
        broker: (prefix) => createRedisBroker({ url, channels, prefix }),
        release: async () => {},
      };
    },
    redisSkipReason(),
    redisOnly(async () => (await oneRedis()).url, channels),
  );
}

let cluster: RedisClusterProcess | undefined;
after(async () => cluster?.stop());
fleetSuite(
  'Redis Cluster',
  async () => {
    cluster = await startRedisCluster();
    const rootNodes = cluster.rootNodes;
    return {
      broker: (prefix) => createRedisBroker({ cluster: { rootNodes }, prefix }),
      release: async () => {},
    };
  },
  redisSkipReason(),
);

describe('presence on a Redis of its own: what an instance writes while idle', {
  skip: redisSkipReason(),
}, () => {
  const SCOPES = 50;
  const intervalMs = 200;
  let own: RedisProcess;
  let app: RunningApp;
  let broker: Broker;
  const streams: RawStream[] = [];
  before(async () => {
    own = await startRedis();
    broker = createRedisBroker({ url: own.url });
    app = await startApp<SessionPrincipal>('node:http', {
      broker,
      resolver,
      router,
      presence: { intervalMs },
    });
    for (let i = 0; i < SCOPES; i++) {
      sessions.set(`idle-${i}`, { userId: `u${i}`, scopeId: String(100 + i) });
      streams.push(await openRaw(`${app.url}/events?session=idle-${i}`));
    }
  });
  after(async () => {
    for (const raw of streams) raw.abort();
    await app?.stop();
    await broker?.close();
    await own?.stop();
  });

  /** Whether every scope shows its one user. */
  const allPresent = async (): Promise<boolean> => {
    const read = await Promise.all(
      Array.from({ length: SCOPES }, (_, i) => app.sse.presence(`gym:${100 + i}`)),
    );
    return read.every((p, i) => p.count === 1 && p.users[0] === `u${i}`);
  };
  const aliveMarks = async (): Promise<string[]> =>
    (await redisCli(own.port, 'KEYS', '*presence-instance*')).split('\n').filter(Boolean);

  it(`renews one mark per interval, whatever its scopes (${SCOPES} here)`, async () => {
    await waitFor(allPresent, `all ${SCOPES} scopes show their user`);
    const before = await commandCalls(own.port);
    const started = Date.now();
    // A rate over a window: five intervals of doing nothing but staying present.
    await new Promise((resolve) => setTimeout(resolve, 5 * intervalMs));
    const used = callsBetween(before, await commandCalls(own.port));
    const intervals = Math.ceil((Date.now() - started) / intervalMs) + 1;
    const writes = ['set', 'pexpire', 'sadd', 'hset', 'hdel', 'srem'].map((c) => used.get(c) ?? 0);
    const total = writes.reduce((a, b) => a + b, 0);
    console.log(
      `idle with ${SCOPES} scopes for ${intervals - 1}+ intervals: ${total} presence writes (${JSON.stringify(Object.fromEntries([...used].filter(([, n]) => n > 0)))})`,
    );
    assert.ok((used.get('set') ?? 0) >= 1, 'the mark was renewed');
    assert.ok(total <= intervals, `${total} presence writes in ${intervals} intervals`);
  });

  it('counted out (its mark gone), it writes its entries again under a new id; readers delete the old', async () => {
    const [mark] = await aliveMarks();
    assert.ok(mark, 'the instance has a mark');
    const oldId = /\{([^}]+)\}$/.exec(mark)?.[1] as string;
    await redisCli(own.port, 'DEL', mark);
    await waitFor(
      async () => (await aliveMarks()).some((m) => !m.includes(oldId)),
      'a mark under a new id',
    );
    await waitFor(allPresent, `all ${SCOPES} scopes show their user again`);
    const left = (await redisCli(own.port, 'KEYS', `*:${oldId}`)).split('\n').filter(Boolean);
    assert.deepEqual(left, [], 'what the old id left is deleted by the reads');
  });
});
