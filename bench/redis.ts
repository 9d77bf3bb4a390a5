/**
 * The bench's own redis-server (@eventrail/testkit's launcher: a free port of 127.0.0.1, never the
 * shared 6379), with an admin connection for the bench's readings of it: commandstats, clients,
 * the latency monitor.
 */
import { startRedisCluster as startCluster } from '@eventrail/testkit/cluster';
import { type RedisProcess, startRedis as startServer } from '@eventrail/testkit/redis';
import { connectRaw, type RawRedisConnection } from '@eventrail/testkit/resp';

export interface BenchRedis {
  readonly port: number;
  readonly url: string;
  /** A connection named `bench-admin`, left out of {@link redisClients}' counts. */
  readonly admin: RawRedisConnection;
  /** SIGKILLs the server. */
  stop(): Promise<void>;
}

/** The shortest event Redis's latency monitor records on the bench's servers, in ms. */
export const REDIS_LATENCY_THRESHOLD_MS = 10;

/** A redis-server of the bench's own, tuned for the bench. */
export async function startRedis(): Promise<BenchRedis> {
  return withAdmin(
    await startServer([
      '--maxclients',
      '1000',
      // A benchmark subscriber may lag: never cut it for a full output buffer.
      ...['--client-output-buffer-limit', 'pubsub 0 0 0'],
      // Redis records its own slow events (commands, expiry cycles, ...): the bench reads the
      // longest in each measured window (LATENCY LATEST).
      ...['--latency-monitor-threshold', String(REDIS_LATENCY_THRESHOLD_MS)],
    ]),
  );
}

async function withAdmin(server: RedisProcess): Promise<BenchRedis> {
  const admin = await connectRaw(server.port, { name: 'bench-admin' }).catch(async (err) => {
    await server.kill();
    throw err;
  });
  return {
    port: server.port,
    url: server.url,
    admin,
    async stop() {
      await Promise.all([server.kill(), admin.close()]);
    },
  };
}

export interface BenchCluster {
  /** Every node, masters and replicas. */
  readonly nodes: readonly BenchRedis[];
  /** `[{ url }]` of every node, for `createRedisBroker({ cluster: { rootNodes } })`. */
  readonly rootNodes: { url: string }[];
  stop(): Promise<void>;
}

/** A six-node Redis Cluster (testkit's), with an admin connection to every node. */
export async function startRedisCluster(): Promise<BenchCluster> {
  const cluster = await startCluster();
  const admins = await Promise.all(
    cluster.nodes.map((node) => connectRaw(node.port, { name: 'bench-admin' })),
  ).catch(async (err) => {
    await cluster.stop();
    throw err;
  });
  return {
    nodes: cluster.nodes.map((node, i) => ({
      port: node.port,
      url: node.url,
      admin: admins[i] as RawRedisConnection,
      stop: () => node.kill(),
    })),
    rootNodes: cluster.nodes.map((node) => ({ url: node.url })),
    async stop() {
      await Promise.all(admins.map((admin) => admin.close()));
      await cluster.stop();
    },
  };
}

/** `INFO commandstats` as command -> calls and µs spent in it. */
export async function commandStats(
  admin: RawRedisConnection,
): Promise<Map<string, { calls: number; usec: number }>> {
  const info = await admin.command('INFO', 'commandstats');
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const m of String(info).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return stats;
}

/** CPU µs redis-server has used so far, user and system (`INFO cpu`). */
export async function redisCpuUs(admin: RawRedisConnection): Promise<number> {
  const info = String(await admin.command('INFO', 'cpu'));
  const seconds = (key: string): number =>
    Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6;
}

/** `INFO commandstats` as command -> calls. */
export async function commandCalls(admin: RawRedisConnection): Promise<Map<string, number>> {
  const info = await admin.command('INFO', 'commandstats');
  const calls = new Map<string, number>();
  for (const m of String(info).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(m[1] as string, Number(m[2]));
  }
  return calls;
}

/**
 * The longest event Redis's latency monitor recorded since the last call (its `LATENCY LATEST`
 * maxima, in ms; 0 when none reached {@link REDIS_LATENCY_THRESHOLD_MS}), and a fresh record
 * from now on.
 */
export async function redisStallMs(admin: RawRedisConnection): Promise<number> {
  const latest = await admin.command('LATENCY', 'LATEST');
  await admin.command('LATENCY', 'RESET');
  if (!Array.isArray(latest)) return 0;
  // Each entry: [event name, unix time of the latest, latest ms, all-time max ms].
  return Math.max(0, ...latest.map((entry) => (Array.isArray(entry) ? Number(entry[3]) || 0 : 0)));
}

/** Calls made between two snapshots by anyone but the bench's admin connection. */
export function commandDelta(
  before: Map<string, number>,
  after: Map<string, number>,
): Map<string, number> {
  const admin = /^(info|client\||pubsub\||ping|config\||latency\|)/;
  const delta = new Map<string, number>();
  for (const [name, n] of after) {
    const d = n - (before.get(name) ?? 0);
    if (d > 0 && !admin.test(name)) delta.set(name, d);
  }
  return delta;
}

export interface RedisClients {
  total: number;
  subscribers: number;
  numpat: number;
}

/** Connections other than the bench's own, and pattern subscriptions. */
export async function redisClients(admin: RawRedisConnection): Promise<RedisClients> {
  const list = String(await admin.command('CLIENT', 'LIST'));
  const others = list.split('\n').filter((l) => l.includes('id=') && !/name=bench-/.test(l));
  const subscribers = others.filter((l) => /\b(sub|psub)=[1-9]/.test(l)).length;
  const numpat = Number(await admin.command('PUBSUB', 'NUMPAT'));
  return { total: others.length, subscribers, numpat };
}
