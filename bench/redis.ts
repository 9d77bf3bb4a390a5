/**
 * The bench's own redis-server (a free port of 127.0.0.1, never the shared 6379) and a tiny
 * binary-safe RESP client for its admin commands.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, launch } from './procs.js';

export type Reply = string | number | null | Error | Reply[];

export interface RespClient {
  command(...args: (string | Buffer)[]): Promise<Reply>;
  close(): void;
}

function encode(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const buf = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${buf.length}\r\n`), buf, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `at`; undefined when incomplete. */
function parse(buf: Buffer, at: number): { value: Reply; end: number } | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const line = buf.toString('utf8', at + 1, eol);
  switch (buf[at]) {
    case 0x2b: // +
      return { value: line, end: eol + 2 };
    case 0x2d: // -
      return { value: new Error(line), end: eol + 2 };
    case 0x3a: // :
      return { value: Number(line), end: eol + 2 };
    case 0x24: {
      // $
      const len = Number(line);
      if (len < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + len + 2) return undefined;
      return { value: buf.toString('utf8', eol + 2, eol + 2 + len), end: eol + 4 + len };
    }
    case 0x2a: {
      // *
      const items: Reply[] = [];
      let end = eol + 2;
      for (let i = 0; i < Number(line); i++) {
        const item = parse(buf, end);
        if (item === undefined) return undefined;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`bad RESP byte ${buf[at]}`);
  }
}

export async function connectResp(port: number, name: string): Promise<RespClient> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const waiting: ((r: Reply) => void)[] = [];
  let buf: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    let at = 0;
    for (;;) {
      const r = parse(buf, at);
      if (r === undefined) break;
      at = r.end;
      waiting.shift()?.(r.value);
    }
    buf = buf.subarray(at);
  });
  socket.on('error', () => {});
  const client: RespClient = {
    command(...args) {
      return new Promise((resolve) => {
        waiting.push(resolve);
        socket.write(encode(args));
      });
    },
    close: () => socket.destroy(),
  };
  await client.command('CLIENT', 'SETNAME', name);
  return client;
}

export interface BenchRedis {
  readonly port: number;
  readonly url: string;
  readonly admin: RespClient;
  stop(): void;
}

/** The shortest event Redis's latency monitor records on the bench's servers, in ms. */
export const REDIS_LATENCY_THRESHOLD_MS = 10;

/** A redis-server of the bench's own; `extraArgs` are added to its command line. */
export async function startRedis(extraArgs: readonly string[] = []): Promise<BenchRedis> {
  const port = await freePort();
  const child: ChildProcess = launch(
    'redis-server',
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      ...['--dir', os.tmpdir(), '--maxclients', '1000'],
      // A benchmark subscriber may lag: never cut it for a full output buffer.
      ...['--client-output-buffer-limit', 'pubsub 0 0 0'],
      // Redis records its own slow events (commands, expiry cycles, ...): the bench reads the
      // longest in each measured window (LATENCY LATEST).
      ...['--latency-monitor-threshold', String(REDIS_LATENCY_THRESHOLD_MS)],
      ...extraArgs,
    ],
    'redis',
  );
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      const admin = await connectResp(port, 'bench-admin');
      const info = await admin.command('INFO', 'server');
      const pid = typeof info === 'string' ? /process_id:(\d+)/.exec(info)?.[1] : undefined;
      if (Number(pid) !== child.pid) {
        admin.close();
        throw new Error(`port ${port} is answered by another Redis`);
      }
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        admin,
        stop() {
          admin.close();
          child.kill('SIGKILL');
        },
      };
    } catch (err) {
      if (err instanceof Error && err.message.includes('another Redis')) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill('SIGKILL');
  throw new Error('redis-server did not start within 10 s');
}

export interface BenchCluster {
  /** Every node, masters and replicas. */
  readonly nodes: readonly BenchRedis[];
  /** `[{ url }]` of every node, for `createRedisBroker({ cluster: { rootNodes } })`. */
  readonly rootNodes: { url: string }[];
  stop(): Promise<void>;
}

/**
 * A Redis Cluster of the bench's own, as test/helpers/redis-cluster.ts starts one: six nodes on
 * free loopback ports, joined by `redis-cli --cluster create` into three masters with a replica
 * each; resolves once every node says `cluster_state:ok` and every replica is in sync.
 */
export async function startRedisCluster(): Promise<BenchCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'eventrail-bench-cluster-'));
  const nodes: BenchRedis[] = [];
  const stop = async (): Promise<void> => {
    for (const node of nodes) node.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const holds = async (node: BenchRedis, section: string[], pattern: RegExp): Promise<boolean> =>
    pattern.test(String(await node.admin.command(...section)));
  try {
    for (let i = 0; i < 6; i++) {
      nodes.push(
        await startRedis([
          ...['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'],
          ...['--cluster-config-file', `nodes-${randomUUID()}.conf`],
          // Full syncs of nodes sharing a directory must not write the same file.
          ...['--dbfilename', `dump-${randomUUID()}.rdb`, '--dir', dir],
          // A replica's first sync starts at once, not after the default 5 s wait for others.
          ...['--repl-diskless-sync-delay', '0'],
        ]),
      );
    }
    await promisify(execFile)(
      'redis-cli',
      [
        ...['-h', '127.0.0.1', '-p', String(nodes[0]?.port), '--cluster', 'create'],
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        ...['--cluster-replicas', '1', '--cluster-yes'],
      ],
      { timeout: 30_000 },
    );
    const deadline = Date.now() + 30_000;
    for (const node of nodes) {
      while (
        !(await holds(node, ['CLUSTER', 'INFO'], /cluster_state:ok/)) ||
        !(await holds(node, ['INFO', 'replication'], /^(role:master|master_link_status:up)/m))
      ) {
        if (Date.now() > deadline) throw new Error(`cluster node :${node.port} not ready in 30 s`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, rootNodes: nodes.map((node) => ({ url: node.url })), stop };
}

/** `INFO commandstats` as command -> calls. */
export async function commandCalls(admin: RespClient): Promise<Map<string, number>> {
  const info = await admin.command('INFO', 'commandstats');
  const calls = new Map<string, number>();
  for (const m of String(info).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(m[1] as string, Number(m[2]));
  }
  return calls;
}

/** `INFO commandstats` as command -> calls and µs spent in it. */
export async function commandStats(
  admin: RespClient,
): Promise<Map<string, { calls: number; usec: number }>> {
  const info = await admin.command('INFO', 'commandstats');
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const m of String(info).matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    stats.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) });
  }
  return stats;
}

/** CPU µs redis-server has used so far, user and system (`INFO cpu`). */
export async function redisCpuUs(admin: RespClient): Promise<number> {
  const info = String(await admin.command('INFO', 'cpu'));
  const seconds = (key: string): number =>
    Number(new RegExp(`^${key}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6;
}

/**
 * The longest event Redis's latency monitor recorded since the last call (its `LATENCY LATEST`
 * maxima, in ms; 0 when none reached {@link REDIS_LATENCY_THRESHOLD_MS}), and a fresh record
 * from now on.
 */
export async function redisStallMs(admin: RespClient): Promise<number> {
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
export async function redisClients(admin: RespClient): Promise<RedisClients> {
  const list = String(await admin.command('CLIENT', 'LIST'));
  const others = list.split('\n').filter((l) => l.includes('id=') && !/name=bench-/.test(l));
  const subscribers = others.filter((l) => /\b(sub|psub)=[1-9]/.test(l)).length;
  const numpat = Number(await admin.command('PUBSUB', 'NUMPAT'));
  return { total: others.length, subscribers, numpat };
}
