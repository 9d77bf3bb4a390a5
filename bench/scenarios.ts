/** The scenarios of issue 6, each run against one system on a fresh server and fresh workers. */
import { type SystemSpec, slug } from './catalog.js';
import type { Config } from './config.js';
import {
  medianRound,
  type SaturationResult,
  type SteadyResult,
  saturate,
  steady,
  warmUp,
} from './phases.js';
import {
  type BenchRedis,
  commandCalls,
  commandDelta,
  type RedisClients,
  redisClients,
  startRedis,
} from './redis.js';
import {
  type Probe,
  type Rig,
  type ServerStats,
  startRig,
  startWorkers,
  type Worker,
} from './rig.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const debug = process.env.BENCH_DEBUG !== undefined;
let last = Date.now();
/** With BENCH_DEBUG set, prints how long each step took. */
function lap(what: string): void {
  if (debug) console.log(`    ${what}: ${Date.now() - last} ms`);
  last = Date.now();
}

export interface LoadResult {
  connected: number;
  failed: number;
  /** The steady phase of this load, the system alone on the machine. */
  alone: SteadyResult;
  /** Its windows of {@link interleavedLatency} (full runs over N/10 scopes). */
  windows?: SteadyResult[];
  saturation: SaturationResult;
  /**
   * Idle memory per connection (after GC), bytes; null when the difference over all connections
   * is below {@link MEMORY_RESOLUTION_BYTES} (then it is noise, not a measurement).
   */
  rssPerConn: number | null;
  heapPerConn: number | null;
  /** Redis while connected (null on the memory broker). */
  clients: RedisClients | null;
  /** Redis commands per published event, by command, over both phases. */
  commandsPerEvent: Record<string, number> | null;
}

/**
 * What a memory difference must exceed to count: RSS and the heap after a collection move by a
 * few MiB between two samples of an idle server (allocator pages, V8's spaces). A quick run's
 * 2,000 connections take less than that, and read negative as often as not.
 */
export const MEMORY_RESOLUTION_BYTES = 4 * 2 ** 20;

/** Bytes per connection, or null when the whole difference is below the resolution. */
function perConnection(bytes: number, connections: number): number | null {
  if (connections <= 0 || bytes < MEMORY_RESOLUTION_BYTES) return null;
  return Math.round(bytes / connections);
}

/** What every scenario runs with. */
export interface Bench {
  readonly redis: BenchRedis;
  readonly workers: readonly Worker[];
  readonly probe: Probe;
  readonly config: Config;
}

async function withRig<T>(
  spec: SystemSpec,
  { redis, workers, probe, config }: Bench,
  label: string,
  body: (rig: Rig) => Promise<T>,
): Promise<T> {
  lap('before start');
  const rig = await startRig(spec, redis, workers, probe, config, label);
  lap('start');
  try {
    return await body(rig);
  } finally {
    await rig.stop();
    lap('stop');
  }
}

/**
 * `connections` clients over `scopes` scopes: memory, Redis cost, steady latency (for `steadyMs`),
 * saturation.
 */
export function load(
  spec: SystemSpec,
  bench: Bench,
  scopes: number,
  label: string,
  steadyMs: number,
): Promise<LoadResult> {
  const { redis, config } = bench;
  return withRig(spec, bench, label, async (rig) => {
    const n = config.connections;
    const assignment = assign(n, scopes);
    // Memory per connection is the slope over the second half: the growth from n/2 to n
    // connections, over n/2. Counted from an empty server, one-time costs (compiled code, parser
    // pools) and how much heap the process had reserved before (a Redis client's start-up does)
    // weigh in: two servers with the same heap per connection and the same final RSS read
    // 11.3 and 8.9 KB per connection that way, and 9.2 and 9.0 KB by the slope.
    const warm = Math.max(1, Math.round(n / 2));
    const warmed = await rig.connect(assignment.slice(0, warm));
    const before = await rig.stats(true);
    const rest = await rig.connect(assignment.slice(warm));
    const connected = warmed.connected + rest.connected;
    const failed = warmed.failed + rest.failed;
    const error = warmed.error ?? rest.error;
    lap(`connect ${connected}`);
    if (failed > 0) console.warn(`  ${spec.name}: ${failed} connections failed (${error})`);
    await sleep(300);
    const idle = await rig.stats(true);
    const clients = spec.via === 'ipc' ? null : await redisClients(redis.admin);
    const calls0 = await commandCalls(redis.admin);
    lap('idle stats');
    const steadyResult = await steady(rig, config, scopes, { warmupMs: config.warmupMs, steadyMs });
    lap('steady');
    const saturation = await saturate(rig, config, scopes);
    lap('saturation');
    // Publishes still queued in the publisher or Redis run within a second; count them all.
    await sleep(1000);
    const calls1 = await commandCalls(redis.admin);
    let commandsPerEvent: Record<string, number> | null = null;
    if (spec.via !== 'ipc') {
      commandsPerEvent = {};
      const events = steadyResult.warmupEvents + steadyResult.events + saturation.events;
      for (const [name, calls] of commandDelta(calls0, calls1)) {
        commandsPerEvent[name] = Math.round((calls / events) * 1000) / 1000;
      }
    }
    return {
      connected,
      failed,
      alone: steadyResult,
      saturation,
      rssPerConn: perConnection(idle.rss - before.rss, rest.connected),
      heapPerConn: perConnection(idle.heapUsed - before.heapUsed, rest.connected),
      clients,
      commandsPerEvent,
    };
  });
}

/** A load's latency: the median over its interleaved windows, or its steady phase alone. */
export function steadyOf(r: LoadResult): SteadyResult {
  return r.windows ? medianRound(r.windows) : r.alone;
}

/** The scope of each of `n` connections: consecutive runs of n / scopes. */
function assign(n: number, scopes: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.floor((i * scopes) / n) + 1);
}

/**
 * Latency over `scopes` scopes with every system up at once, measured in short windows that take
 * turns: round after round, each system gets a window at the steady rate while the others idle
 * with their connections open. A disturbance of the shared machine (another tenant, the
 * hypervisor) then falls on every system alike instead of on whichever system's round it hit: in
 * rounds of 20 s, one system after the other, a round's p99 moved by up to 5x. Every Redis-backed
 * system gets a redis-server of its own (the same pattern subscriptions on one Redis would make
 * every PUBLISH match them all). Returns each system's windows, in order.
 */
export async function interleavedLatency(
  specs: readonly SystemSpec[],
  bench: Bench,
  scopes: number,
): Promise<Map<string, SteadyResult[]>> {
  const { config } = bench;
  const own: BenchRedis[] = [];
  const rigs: Rig[] = [];
  const windows = new Map<string, SteadyResult[]>();
  try {
    for (const spec of specs) {
      const redis = spec.via === 'ipc' ? bench.redis : await startRedis();
      if (redis !== bench.redis) own.push(redis);
      // Load workers of its own too: every system's connections at once would pass a worker's
      // file limit, and its counts stay its own.
      const rig = await startRig(
        spec,
        redis,
        startWorkers(config),
        bench.probe,
        config,
        `latency-${slug(spec.name)}`,
      );
      rigs.push(rig);
      const { failed, error } = await rig.connect(assign(config.connections, scopes));
      if (failed > 0) console.warn(`  ${spec.name}: ${failed} connections failed (${error})`);
      windows.set(spec.name, []);
    }
    lap(`connect ${rigs.length} systems`);
    // A full warm-up each, unmeasured, before the first window.
    for (const rig of rigs) await warmUp(rig, config, scopes, config.warmupMs);
    for (let round = 0; round < config.latencyRounds; round++) {
      // Each round starts one system further on: no system always runs right after the same one.
      const shift = round % rigs.length;
      for (const rig of [...rigs.slice(shift), ...rigs.slice(0, shift)]) {
        const window = await steady(rig, config, scopes, {
          warmupMs: config.latencyWarmupMs,
          steadyMs: config.latencyWindowMs,
          settleMs: config.latencySettleMs,
        });
        windows.get(rig.spec.name)?.push(window);
      }
      lap(`latency round ${round + 1}`);
    }
    return windows;
  } finally {
    for (const rig of rigs) {
      await rig.stop();
      for (const worker of rig.workers) await worker.kill();
    }
    for (const redis of own) await redis.stop();
  }
}

export interface ChurnResult {
  opened: number;
  completed: number;
  failed: number;
  before: ServerStats;
  after: ServerStats;
  numpatBefore: number;
  numpatAfter: number;
  /** Heap, sockets and NUMPAT back to what they were before the churn. */
  baseline: boolean;
  /** How long after the last disconnect `after` was taken (1.5 s, or 7 s when not back by then). */
  waitedMs: number;
}

/** Connect and disconnect `churnPerSec` clients a second over 100 scopes; then compare. */
export function churn(spec: SystemSpec, bench: Bench, label: string): Promise<ChurnResult> {
  const { redis, config } = bench;
  return withRig(spec, bench, label, async (rig) => {
    // A short warm-up churn first, so that lazily built code and pools count as baseline.
    const round = (perSec: number, durationMs: number) =>
      Promise.all(
        rig.workers.map((w) =>
          w.ask(
            {
              type: 'churn',
              kind: spec.client,
              port: rig.port,
              perSec: perSec / rig.workers.length,
              durationMs,
              holdMs: config.churnHoldMs,
              scopes: 100,
            },
            'churned',
            durationMs + 30_000,
          ),
        ),
      );
    await round(config.churnPerSec, config.quick ? 300 : 1000);
    await sleep(1500); // past the 1 s idle timeout of every system
    const before = await rig.stats(true);
    const numpatBefore = (await redisClients(redis.admin)).numpat;
    const answers = await round(config.churnPerSec, config.churnMs);
    const heapSlack = Math.max(1 << 20, before.heapUsed * 0.05);
    const settle = async (ms: number) => {
      await sleep(ms);
      const after = await rig.stats(true);
      const numpatAfter = (await redisClients(redis.admin)).numpat;
      const baseline =
        after.sockets <= before.sockets &&
        numpatAfter <= numpatBefore &&
        after.heapUsed <= before.heapUsed + heapSlack;
      return { after, numpatAfter, baseline };
    };
    let settled = await settle(1500);
    // Not back yet: give timers of up to 5 s (publish/command timeouts) the time to fire.
    const waitedMs = settled.baseline ? 1500 : 7000;
    if (!settled.baseline) settled = await settle(5500);
    const sum = (key: 'opened' | 'completed' | 'failed'): number =>
      answers.reduce((n, a) => n + a[key], 0);
    return {
      opened: sum('opened'),
      completed: sum('completed'),
      failed: sum('failed'),
      before,
      numpatBefore,
      ...settled,
      waitedMs,
    };
  });
}
