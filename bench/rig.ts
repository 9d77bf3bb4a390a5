/**
 * One system under test: its server process, fresh load workers and a publisher, for one scenario.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Emitter } from '@socket.io/redis-emitter';
import { createPublisher } from 'eventrail';
import { createRedisBroker } from 'eventrail/redis';
import { createClient } from 'redis';
import type { SystemSpec } from './catalog.js';
import type { Config } from './config.js';
import { launch, nodeArgs, type Peer, peer } from './procs.js';
import {
  channelOf,
  EVENT_TYPE,
  nowUs,
  type ProbeReply,
  type ProbeRequest,
  payloadOf,
  type ServerReply,
  type ServerRequest,
  type Tick,
  type WorkerReply,
  type WorkerReport,
  type WorkerRequest,
} from './protocol.js';
import { type BenchRedis, redisCpuUs, redisStallMs } from './redis.js';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

export type ServerStats = Extract<ServerReply, { type: 'stats' }>;
export type Worker = Peer<WorkerRequest, WorkerReply>;
export type Probe = Peer<ProbeRequest, ProbeReply>;

export interface Rig {
  readonly spec: SystemSpec;
  readonly port: number;
  readonly workers: readonly Worker[];
  /** The run's stall probe, shared by every rig (see bench/probe.ts). */
  readonly probe: Probe;
  /** Publishes event `seq` on `scope`, stamped with the current time. */
  publish(seq: number, scope: number): void;
  /** The server's stats, after a full GC with `gc`; `mark` notes a measured window in its log. */
  stats(gc?: boolean, mark?: 'start' | 'end'): Promise<ServerStats>;
  /** The longest stall Redis recorded since the last call (see redisStallMs), in ms. */
  redisStallMs(): Promise<number>;
  /** CPU µs used so far by redis-server and by this bench process (publisher and bookkeeping). */
  otherCpu(): Promise<{ redisUs: number; benchUs: number; machineUs: number }>;
  reports(): Promise<WorkerReport[]>;
  /** Connects `scopes.length` clients (one per entry), split over the workers in blocks. */
  connect(scopes: number[]): Promise<{ connected: number; failed: number; error?: string }>;
  /** Which workers hold connections of each scope. */
  readonly holders: Map<number, Set<number>>;
  stop(): Promise<void>;
}

/** CPU µs the whole machine has been busy (all cores, every process), from /proc/stat; 0 elsewhere. */
function machineBusyUs(): number {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
      .split(/\s+/)
      .map(Number);
    // cpu user nice system idle iowait irq softirq steal; USER_HZ is 100 on Linux.
    const busy = [1, 2, 3, 6, 7, 8].reduce((n, i) => n + (fields[i] ?? 0), 0);
    return busy * 10_000;
  } catch {
    return 0;
  }
}

/** The stall probe: an idle process, started once per run (see bench/probe.ts). */
export function startProbe(): Probe {
  return peer(launch(process.execPath, nodeArgs(here('probe.ts')), 'probe', true), 'probe');
}

/** Workers started with a source address of their own in this process (see startWorkers). */
let addressed = 0;

/**
 * The load workers, started once per run and shared by every rig in turn. With `ownAddresses`
 * (the box scenario), each connects from a loopback address no other worker used: one address
 * reaches one server port from ~28,000 ephemeral ports at most, fewer than the box's 40,000
 * streams. Not by default: a socket bound to an address before it connects holds its port against
 * every other connect of the machine (the kernel's autobind skips ports taken by bind), so with
 * every system's workers up at once (the interleaved latency phases, 70,000 connections) bound
 * workers ran the machine out of ports (EADDRINUSE in the workers, EADDRNOTAVAIL for the bench's
 * own Redis connections); and an address a worker of an earlier scenario used still has its ports
 * in TIME_WAIT.
 */
export function startWorkers(config: Config, ownAddresses = false): Worker[] {
  return Array.from({ length: config.workers }, (_, i) => {
    const n = ownAddresses ? addressed++ : -1;
    const env: Record<string, string> =
      n < 0 ? {} : { BENCH_SOURCE_ADDRESS: `127.1.${Math.floor(n / 250)}.${(n % 250) + 2}` };
    return peer(
      launch(process.execPath, nodeArgs(here('client/worker.ts')), `worker ${i}`, true, env),
      `worker ${i}`,
    );
  });
}

export async function startRig(
  spec: SystemSpec,
  redis: BenchRedis,
  workers: readonly Worker[],
  probe: Probe,
  config: Config,
  label: string,
): Promise<Rig> {
  // Every system starts on an empty Redis (the bench's own server): the history streams an
  // earlier system left, and their expiry, are not another system's cost.
  await redis.admin.command('FLUSHALL', 'SYNC');
  const flags = ['--expose-gc'];
  if (config.profile && (spec.eventrail || config.only !== undefined)) {
    // One directory per scenario: the tsx loader thread writes a profile of its own beside the main one.
    flags.push('--cpu-prof', `--cpu-prof-dir=${config.profileDir}/${label}`);
  }
  // V8 prints one line per collection (name=value pairs) on stdout: bench/gc.ts reads them.
  if (config.traceGc) flags.push('--trace-gc', '--trace-gc-nvp');
  const server = peer<ServerRequest, ServerReply>(
    launch(
      process.execPath,
      nodeArgs(here(`systems/${spec.file}`), flags),
      spec.name,
      true,
      { ...spec.env, REDIS_URL: redis.url },
      config.traceGc ? `${config.profileDir}/${label}.gc.log` : undefined,
    ),
    spec.name,
  );
  const listening = await server.ask(null, 'listening', 30_000).catch(async (err: unknown) => {
    await server.kill();
    throw err;
  });
  // Every Redis-backed system is published to through node-redis, the official client, as an
  // app would publish: eventrail through its own publisher on it, the others with `PUBLISH` (or
  // the Socket.IO emitter) on it. Named so that CLIENT LIST can tell it from the server's.
  const client =
    spec.via === 'ipc' ? undefined : createClient({ url: redis.url, name: 'bench-publisher' });
  await client?.connect();
  const broker =
    client && spec.via === 'eventrail'
      ? createRedisBroker({
          publisher: client,
          subscriber: client.duplicate(),
          history: spec.env.HISTORY !== 'off',
        })
      : undefined;
  const publisher = broker && createPublisher({ broker });
  const emitter =
    client && spec.via === 'emitter'
      ? new Emitter({ publish: (channel: string, msg: Buffer) => client.publish(channel, msg) })
      : undefined;
  const failed = (err: unknown): void => console.error(`publish: ${String(err)}`);
  const holders = new Map<number, Set<number>>();
  // IPC publishes (memory broker): one message per bench tick, sent once the tick's loop is done.
  let pending: { channel: string; tick: Tick }[] = [];
  const flushPending = (): void => {
    server.send({ type: 'publish', events: pending });
    pending = [];
  };

  return {
    spec,
    port: listening.port,
    workers,
    probe,
    holders,
    publish(seq, scope) {
      const tick = { s: seq, t: nowUs() };
      if (publisher) {
        publisher
          .publishEvent(channelOf(scope), { eventType: EVENT_TYPE, data: tick })
          .catch(failed);
      } else if (emitter) emitter.to(`scope:${scope}`).emit(EVENT_TYPE, tick);
      else if (client) client.publish(channelOf(scope), payloadOf(tick)).catch(failed);
      else {
        if (pending.length === 0) queueMicrotask(flushPending);
        pending.push({ channel: channelOf(scope), tick });
      }
    },
    // A saturated server answers late: its event loop is behind on purpose.
    stats: (gc = false, mark?: 'start' | 'end') =>
      server.ask({ type: 'stats', gc, ...(mark && { mark }) }, 'stats', 180_000),
    redisStallMs: () => redisStallMs(redis.admin),
    async otherCpu() {
      const redisUs = await redisCpuUs(redis.admin);
      const bench = process.cpuUsage();
      return {
        redisUs,
        benchUs: bench.user + bench.system,
        machineUs: machineBusyUs(),
      };
    },
    reports: () => Promise.all(workers.map((w) => w.ask({ type: 'report' }, 'report'))),
    async connect(scopes) {
      const size = Math.ceil(scopes.length / workers.length);
      const answers = await Promise.all(
        workers.map((worker, i) => {
          const mine = scopes.slice(i * size, (i + 1) * size);
          for (const scope of mine) {
            const set = holders.get(scope) ?? new Set<number>();
            set.add(i);
            holders.set(scope, set);
          }
          return worker.ask(
            {
              type: 'connect',
              kind: spec.client,
              port: listening.port,
              scopes: mine,
              concurrency: config.concurrency,
            },
            'ready',
            120_000,
          );
        }),
      );
      const connected = answers.reduce((n, a) => n + a.connected, 0);
      const failed = answers.reduce((n, a) => n + a.failed, 0);
      const error = answers.find((a) => a.error !== undefined)?.error;
      return error === undefined ? { connected, failed } : { connected, failed, error };
    },
    async stop() {
      await broker?.close();
      await client?.close();
      await Promise.all(
        workers.map((w) => w.ask({ type: 'close' }, 'closed', 10_000).catch(() => undefined)),
      );
      // A clean exit writes the CPU profile; SIGKILL after 10 s.
      server.child.disconnect();
      const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
      const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
      if (server.child.exitCode === null && server.child.signalCode === null) await exited;
      clearTimeout(timer);
    },
  };
}
