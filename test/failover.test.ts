/**
 * Acknowledged events that Redis itself loses: a replica promoted before it received its master's
 * last writes, and a Redis restarted from a persistence file that lacks them. A client resuming
 * after an entry the new writer kept must get a resync, not a replay that skips the lost events;
 * a client resuming after the new writer's own entries is replayed as usual.
 *
 * The lost writes are made on purpose: the replica's link to its master is cut (its `masterauth`
 * is made wrong and the master drops it), the master acknowledges more events, then dies.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { RedisBrokerOptions } from '../src/brokers/redis.js';
import { createPublisher } from '../src/index.js';
import { RESYNC_EVENT } from '../src/wire/protocol.js';
import { startRedisApp } from './helpers/apps.js';
import {
  type RedisProcess,
  redisCommand,
  redisSkipReason,
  startRedis,
  startRedisCluster,
} from './helpers/redis.js';
import { openRaw, type RawStream, waitFor } from './helpers/sse.js';

const skip = redisSkipReason();

async function waitUntil(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not the case within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const info = async (port: number, section: string): Promise<string> =>
  String(await redisCommand(port, 'INFO', section));

/** Stops `replica` from receiving anything more from its master (which keeps acknowledging). */
async function cutReplication(master: number, replica: number): Promise<void> {
  await redisCommand(replica, 'CONFIG', 'SET', 'masteruser', 'eventrail-cut');
  await redisCommand(replica, 'CONFIG', 'SET', 'masterauth', 'wrong');
  await redisCommand(master, 'CLIENT', 'KILL', 'TYPE', 'replica');
  await waitUntil('the replication link down', async () =>
    /master_link_status:down/.test(await info(replica, 'replication')),
  );
}

/** The port of the master that owns `key`'s slot, as the node on `port` sees it. */
async function slotOwner(port: number, key: string): Promise<number> {
  const slot = Number(await redisCommand(port, 'CLUSTER', 'KEYSLOT', key));
  const slots = (await redisCommand(port, 'CLUSTER', 'SLOTS')) as Array<
    [number, number, [string, number, ...unknown[]], ...unknown[]]
  >;
  const range = slots.find(([from, to]) => slot >= from && slot <= to);
  return Number(range?.[2][1]);
}

const events = (s: RawStream) =>
  s.events.filter((e) => e.event !== undefined && !e.event.startsWith('eventrail.'));
const resynced = (s: RawStream) => s.events.some((e) => e.event === RESYNC_EVENT);
const lastId = (s: RawStream): string => events(s).at(-1)?.id ?? assert.fail('no event id');

/** Resumes after `id` on `url` and waits until the resumed stream has settled on an answer. */
async function resume(url: string, id: string, settled: (s: RawStream) => boolean) {
  const stream = await openRaw(`${url}/events?scope=1`, { headers: { 'Last-Event-ID': id } });
  try {
    await waitFor(() => settled(stream), 'the resumed stream to answer', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { resynced: resynced(stream), data: events(stream).map((e) => Number(e.data)) };
  } finally {
    stream.abort();
  }
}

/**
 * One scenario on one writer and the one that takes over from it: events 1-3 reach the successor,
 * 4-5 are acknowledged by the first writer only, 6 is written by the successor.
 */
async function scenario(
  first: RedisBrokerOptions,
  takeOver: () => Promise<RedisBrokerOptions>,
  beforeLoss: () => Promise<void>,
): Promise<void> {
  const before = await startRedisApp(first);
  const publisher = createPublisher({ broker: before.broker });
  const stream = await openRaw(`${before.url}/events?scope=1`);
  let lost: string;
  try {
    for (const n of [1, 2, 3])
      await publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: n });
    await waitFor(() => events(stream).length === 3, 'events 1-3');
    const kept = lastId(stream);
    await beforeLoss();
    for (const n of [4, 5]) await publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: n });
    await waitFor(() => events(stream).length === 5, 'events 4-5, live');
    lost = lastId(stream);
    stream.abort();
    await before.stop();
    const app = await startRedisApp(await takeOver());
    try {
      const publisher2 = createPublisher({ broker: app.broker });
      await publisher2.publishEvent('gym:1:a', { eventType: 'x.y', data: 6 });
      // After 3, the successor holds only 6: 4 and 5 are gone, and only a resync may say so.
      const afterKept = await resume(app.url, kept, (s) => resynced(s) || events(s).length > 0);
      assert.deepEqual(afterKept, { resynced: true, data: [] }, 'resumed after a kept entry');
      // After 5, which the successor never stored: a resync, as before this fix.
      const afterLost = await resume(app.url, lost, (s) => resynced(s) || events(s).length > 0);
      assert.deepEqual(afterLost, { resynced: true, data: [] }, 'resumed after a lost entry');
      // After the successor's own 6: nothing was lost since, so 7 is replayed.
      const six = await openRaw(`${app.url}/events?scope=1`);
      await waitFor(() => six.events.length > 0, 'connected');
      await publisher2.publishEvent('gym:1:a', { eventType: 'x.y', data: 7 });
      await waitFor(() => events(six).length === 1, 'event 7 live');
      six.abort();
      const seven = lastId(six);
      await publisher2.publishEvent('gym:1:a', { eventType: 'x.y', data: 8 });
      const afterOwn = await resume(app.url, seven, (s) => events(s).length > 0);
      assert.deepEqual(
        afterOwn,
        { resynced: false, data: [8] },
        "resumed after the successor's entry",
      );
    } finally {
      await app.stop();
    }
  } finally {
    stream.abort();
    await before.stop();
  }
}

describe('events Redis acknowledged and then lost', { skip }, () => {
  const started: Array<{ stop(): Promise<void> }> = [];
  const dirs: string[] = [];
  after(async () => {
    await Promise.all(started.map((s) => s.stop()));
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });
  const redis = async (args: string[] = []): Promise<RedisProcess> => {
    const server = await startRedis(args);
    started.push(server);
    return server;
  };

  for (const channels of ['pattern', 'sharded'] as const) {
    it(`a promoted replica resyncs who resumes across the lost events (${channels})`, async () => {
      const master = await redis();
      const replica = await redis();
      await redisCommand(replica.port, 'REPLICAOF', '127.0.0.1', String(master.port));
      await waitUntil('the replica in sync', async () =>
        /master_link_status:up/.test(await info(replica.port, 'replication')),
      );
      await scenario(
        { url: master.url, channels },
        async () => {
          await master.kill();
          await redisCommand(replica.port, 'REPLICAOF', 'NO', 'ONE');
          return { url: replica.url, channels };
        },
        async () => {
          // 1-3 are on the replica; from here on it hears nothing.
          await waitUntil('events 1-3 replicated', async () => {
            const m = /master_repl_offset:(\d+)/.exec(await info(master.port, 'replication'));
            const r = /slave_repl_offset:(\d+)/.exec(await info(replica.port, 'replication'));
            return m?.[1] !== undefined && m[1] === r?.[1];
          });
          await cutReplication(master.port, replica.port);
        },
      );
    });
  }

  it('a Redis restarted from a file that lacks its last writes resyncs who resumes across them', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'eventrail-failover-'));
    dirs.push(dir);
    const server = await redis(['--dir', dir, '--dbfilename', 'dump.rdb', '--save', '']);
    await scenario(
      { url: server.url },
      async () => {
        await server.kill();
        await server.restart();
        return { url: server.url };
      },
      async () => {
        await redisCommand(server.port, 'SAVE');
      },
    );
  });

  it('without Redis functions (scripts instead) the writers are told apart too', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'eventrail-failover-'));
    dirs.push(dir);
    const server = await redis([
      ...['--dir', dir, '--dbfilename', 'dump.rdb', '--save', ''],
      ...['--rename-command', 'FCALL', '', '--rename-command', 'FUNCTION', ''],
    ]);
    await scenario(
      { url: server.url, channels: 'sharded' },
      async () => {
        await server.kill();
        await server.restart();
        return { url: server.url, channels: 'sharded' };
      },
      async () => {
        await redisCommand(server.port, 'SAVE');
      },
    );
  });
});

describe('events a Redis Cluster acknowledged and then lost in a failover', { skip }, () => {
  it('a promoted replica resyncs who resumes across them, and who stayed connected', async () => {
    const cluster = await startRedisCluster();
    // An instance that stays up through the failover, with a stream that saw the lost events.
    const stays = await startRedisApp({ cluster: { rootNodes: cluster.rootNodes } });
    const live = await openRaw(`${stays.url}/events?scope=1`);
    try {
      const master = await cluster.masterOf('{gym:1}');
      const replica = Number(
        /slave0:ip=[^,]+,port=(\d+)/.exec(await info(master, 'replication'))?.[1] ??
          assert.fail('the master has no replica'),
      );
      const node = (port: number) =>
        cluster.nodes.find((n) => n.port === port) ?? assert.fail(`no node ${port}`);
      const options: RedisBrokerOptions = { cluster: { rootNodes: cluster.rootNodes } };
      await scenario(
        options,
        async () => {
          await node(master).kill();
          await redisCommand(replica, 'CLUSTER', 'FAILOVER', 'TAKEOVER');
          await waitUntil('the replica serving the slot', async () => {
            for (const n of cluster.nodes) {
              if (n.port === master) continue;
              if ((await slotOwner(n.port, '{gym:1}')) !== replica) return false;
            }
            return true;
          });
          return options;
        },
        async () => {
          await waitFor(() => events(live).length === 3, 'events 1-3 on the instance that stays');
          await waitUntil('events 1-3 replicated', async () => {
            const m = /master_repl_offset:(\d+)/.exec(await info(master, 'replication'));
            const r = /slave_repl_offset:(\d+)/.exec(await info(replica, 'replication'));
            return m?.[1] !== undefined && m[1] === r?.[1];
          });
          await cutReplication(master, replica);
        },
      );
      // It saw 1-5 live; its shard connection died with the master: it is told to resync.
      await waitFor(() => resynced(live), 'a resync on the stream that stayed', 15_000);
      assert.deepEqual(
        events(live)
          .slice(0, 5)
          .map((e) => Number(e.data)),
        [1, 2, 3, 4, 5],
      );
    } finally {
      live.abort();
      await stays.stop();
      await cluster.stop();
    }
  });
});
