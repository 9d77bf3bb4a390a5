/**
 * A throwaway Redis Cluster: six `redis-server --cluster-enabled yes` on free loopback ports (three
 * masters, one replica each), joined with `redis-cli --cluster create`. Every node is a
 * {@link RedisProcess} of ./redis.ts, so it is killed with this process whatever happens.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type RedisProcess, redisCli, startRedis } from './redis.js';
import { redisCommand } from './resp.js';

/** A running cluster. */
export interface RedisClusterProcess {
  readonly nodes: readonly RedisProcess[];
  /** `[{ url }]` of every node, for `createRedisBroker({ cluster: { rootNodes } })`. */
  readonly rootNodes: ReadonlyArray<{ url: string }>;
  /** The port of the master that owns `key`'s slot, as the node on `via` (default: the first) sees it. */
  masterOf(key: string, via?: number): Promise<number>;
  /** The ports of the three masters. */
  masters(): Promise<number[]>;
  /**
   * Moves `slot` to the master on `toPort` as `redis-cli --cluster reshard` does: IMPORTING on the
   * target, MIGRATING on the source, `MIGRATE` of its keys in batches, then `SETSLOT NODE` on
   * every master (target first). `whileMigrating` runs after the first batch.
   */
  migrateSlot(slot: number, toPort: number, whileMigrating?: () => Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

async function waitUntil(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not the case within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

type SlotRange = [number, number, [string, number, ...unknown[]], ...unknown[]];

/** The port of the master of `slot`, as the node on `port` sees it. */
async function ownerOf(port: number, slot: number): Promise<number> {
  const slots = (await redisCommand(port, 'CLUSTER', 'SLOTS')) as SlotRange[];
  const range = slots.find(([from, to]) => slot >= from && slot <= to);
  if (range === undefined) throw new Error(`no master serves slot ${slot}`);
  return Number(range[2][1]);
}

/** The ports of the masters, as the node on `port` sees them. */
async function mastersOf(port: number): Promise<number[]> {
  const slots = (await redisCommand(port, 'CLUSTER', 'SLOTS')) as SlotRange[];
  return [...new Set(slots.map((range) => Number(range[2][1])))];
}

/**
 * Starts six nodes and joins them; resolves once every node says `cluster_state:ok` and every
 * replica is in sync with its master.
 */
export async function startRedisCluster(): Promise<RedisClusterProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'eventrail-cluster-'));
  const nodes: RedisProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      nodes.push(
        await startRedis([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${randomUUID()}.conf`,
          // Full syncs of nodes sharing a directory must not write the same file.
          '--dbfilename',
          `dump-${randomUUID()}.rdb`,
          '--cluster-node-timeout',
          '2000',
          '--dir',
          dir,
          // A replica's first sync starts at once, not after the default 5 s wait for others.
          '--repl-diskless-sync-delay',
          '0',
        ]),
      );
    }
    const first = nodes[0] as RedisProcess;
    await redisCli(
      first.port,
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    );
    for (const node of nodes) {
      await waitUntil(`cluster_state:ok on ${node.port}`, 20_000, async () =>
        /cluster_state:ok/.test(String(await redisCommand(node.port, 'CLUSTER', 'INFO'))),
      );
    }
    // A replica that has not synced yet would take over a master with an empty data set.
    for (const node of nodes) {
      await waitUntil(`replication link of ${node.port}`, 20_000, async () => {
        const info = String(await redisCommand(node.port, 'INFO', 'replication'));
        return /^role:master/m.test(info) || /^master_link_status:up/m.test(info);
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes,
    rootNodes: nodes.map((node) => ({ url: node.url })),
    async masterOf(key, via) {
      const port = via ?? (nodes[0] as RedisProcess).port;
      const slot = Number(await redisCommand(port, 'CLUSTER', 'KEYSLOT', key));
      return ownerOf(port, slot);
    },
    masters: () => mastersOf((nodes[0] as RedisProcess).port),
    async migrateSlot(slot, toPort, whileMigrating) {
      const fromPort = await ownerOf(toPort, slot);
      if (fromPort === toPort) throw new Error(`slot ${slot} is already on ${toPort}`);
      const id = async (port: number) => String(await redisCommand(port, 'CLUSTER', 'MYID'));
      const [fromId, toId] = [await id(fromPort), await id(toPort)];
      const ok = (reply: unknown, what: string): void => {
        if (reply !== 'OK' && reply !== 'NOKEY') throw new Error(`${what}: ${String(reply)}`);
      };
      ok(
        await redisCommand(toPort, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId),
        'IMPORTING',
      );
      ok(
        await redisCommand(fromPort, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId),
        'MIGRATING',
      );
      let first = true;
      for (;;) {
        const keys = (await redisCommand(
          fromPort,
          'CLUSTER',
          'GETKEYSINSLOT',
          String(slot),
          '10',
        )) as string[];
        if (keys.length === 0) break;
        ok(
          await redisCommand(
            fromPort,
            'MIGRATE',
            '127.0.0.1',
            String(toPort),
            '',
            '0',
            '5000',
            'KEYS',
            ...keys,
          ),
          'MIGRATE',
        );
        if (first) await whileMigrating?.();
        first = false;
      }
      const masters = await mastersOf(toPort);
      for (const port of [
        toPort,
        fromPort,
        ...masters.filter((p) => p !== toPort && p !== fromPort),
      ])
        ok(
          await redisCommand(port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', toId),
          'SETSLOT NODE',
        );
      for (const node of nodes)
        await waitUntil(
          `slot ${slot} on ${toPort} seen by ${node.port}`,
          10_000,
          async () => (await ownerOf(node.port, slot)) === toPort,
        );
    },
    stop,
  };
}
