/**
 * The scaling scenario (issue 19): publishes per second through eventrail's publisher, and
 * publish-to-receive latency, as the scopes held open grow (config.scaling.steps), in three setups:
 * pattern channels on one Redis, sharded channels on one Redis, sharded channels on a Redis
 * Cluster of three masters with a replica each. Each step of a setup gets Redis processes of its
 * own and a holder process (bench/scaling/holder.ts) whose brokers hold its scopes open and
 * receive; the bench publishes, taking the steps' windows in turn. Every phase is bounded in time, so a setup that publishes a dozen events a
 * second ends as soon as one that publishes twenty thousand.
 */
import { fileURLToPath } from 'node:url';
import { createPublisher, type Publisher } from 'eventrail';
import { createRedisBroker } from 'eventrail/redis';
import type { Config, ScalingConfig } from '../config.js';
import { Hist } from '../hist.js';
import { launch, nodeArgs, type Peer, peer } from '../procs.js';
import { channelOf, EVENT_TYPE, nowUs } from '../protocol.js';
import {
  type BenchRedis,
  commandStats,
  redisCpuUs,
  startRedis,
  startRedisCluster,
} from '../redis.js';
import { MEMORY_RESOLUTION_BYTES } from '../scenarios.js';
import type { HolderReply, HolderRequest } from './protocol.js';

type Holder = Peer<HolderRequest, HolderReply>;
type HolderReport = Extract<HolderReply, { type: 'report' }>;

export interface ScalingSetup {
  readonly name: string;
  readonly channels: 'pattern' | 'sharded';
  readonly cluster: boolean;
}

export const SCALING_SETUPS: readonly ScalingSetup[] = [
  { name: 'pattern, one Redis', channels: 'pattern', cluster: false },
  { name: 'sharded, one Redis', channels: 'sharded', cluster: false },
  { name: 'sharded, Redis Cluster', channels: 'sharded', cluster: true },
];

/** One step: the figures of its best rate window, then its latency and memory. */
export interface ScalingStep extends RateWindow {
  /** Scopes held open. */
  scopes: number;
  /** How long opening this step's new scopes took, ms. */
  openMs: number;
  /** Scopes that could not be opened. */
  failedToOpen: number;
  /** Every rate window's publishes/s (the step's figures are the best one's). */
  windowsPerSec: number[];
  /** Publish-to-receive at a paced rate, after the rate window. */
  latency: { rate: number; samples: number; p50Ms: number | null; p99Ms: number | null };
  /** The holder after a full GC, the scopes open and idle (before this step's publishing). */
  heapUsed: number;
  rss: number;
}

export interface ScalingSetupResult {
  setup: ScalingSetup;
  steps: ScalingStep[];
  /** Bytes per idle scope subscription between the last two steps; null below the resolution. */
  heapPerScope: number | null;
  rssPerScope: number | null;
  /** Subscriptions the brokers reported as possibly gapped (recycled, reconnected), errors. */
  gaps: number;
  errors: number;
  durationMs: number;
  /** Why the setup stopped early, when it did. */
  failure?: string;
}

export interface ScalingResult {
  config: ScalingConfig;
  setups: ScalingSetupResult[];
  durationMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const int = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Bytes per scope between two steps, or null when the difference is below the resolution. */
function perScope(bytes: number, scopes: number): number | null {
  return scopes <= 0 || bytes < MEMORY_RESOLUTION_BYTES ? null : Math.round(bytes / scopes);
}

/** Sums `INFO cpu` and the publish commands' `INFO commandstats` over every node. */
async function redisCost(nodes: readonly BenchRedis[]) {
  let cpuUs = 0;
  const script = { calls: 0, usec: 0 };
  const announce = { calls: 0, usec: 0 };
  for (const node of nodes) {
    cpuUs += await redisCpuUs(node.admin);
    for (const [name, s] of await commandStats(node.admin)) {
      const into = /^(eval(sha)?|fcall)$/.test(name)
        ? script
        : /^s?publish$/.test(name)
          ? announce
          : undefined;
      if (into) {
        into.calls += s.calls;
        into.usec += s.usec;
      }
    }
  }
  return { cpuUs, script, announce };
}

/** The bench's side of one setup: its publisher and its own event numbers. */
class Publishing {
  seq = 0;
  private next = 0;
  constructor(
    private readonly publisher: Publisher,
    private readonly hotScopes: number,
  ) {}

  one(): Promise<void> {
    const scope = (this.next++ % this.hotScopes) + 1;
    return this.publisher.publishEvent(channelOf(scope), {
      eventType: EVENT_TYPE,
      data: { s: this.seq++, t: nowUs() },
    });
  }

  /**
   * As fast as Redis acknowledges, `inFlight` at a time, for `windowMs` or `max` publishes; resolves
   * once every publish issued has ended. The rate is the publishes acknowledged over the time to
   * the last acknowledgement: with the window kept full that is the rate Redis sustains, even when
   * one pipelined batch takes longer than the window (pattern channels at 100,000 scopes).
   */
  saturate(
    inFlight: number,
    windowMs: number,
    max: number,
  ): Promise<{ perSec: number; issued: number; acked: number; failed: number }> {
    return new Promise((resolve) => {
      const t0 = performance.now();
      const end = t0 + windowMs;
      let open = 0;
      let issued = 0;
      let acked = 0;
      let failed = 0;
      let lastAck = t0;
      const settle = (ok: boolean): void => {
        open--;
        if (ok) {
          acked++;
          lastAck = performance.now();
        } else failed++;
        fill();
      };
      const fill = (): void => {
        while (open < inFlight && issued < max && performance.now() < end) {
          open++;
          issued++;
          this.one().then(
            () => settle(true),
            () => settle(false),
          );
        }
        if (open > 0) return;
        const perSec = acked === 0 ? 0 : (acked * 1000) / Math.max(1, lastAck - t0);
        resolve({ perSec, issued, acked, failed });
      };
      fill();
    });
  }

  /** `rate` publishes a second, for `ms`, in 10 ms ticks; resolves once all have ended. */
  async paced(rate: number, ms: number): Promise<{ acked: number; failed: number }> {
    const pending: Promise<boolean>[] = [];
    const t0 = performance.now();
    for (let elapsed = 0; elapsed < ms; elapsed = performance.now() - t0) {
      while (pending.length < Math.floor((elapsed * rate) / 1000) + 1) {
        pending.push(
          this.one().then(
            () => true,
            () => false,
          ),
        );
      }
      await sleep(10);
    }
    const results = await Promise.all(pending);
    const acked = results.filter(Boolean).length;
    return { acked, failed: results.length - acked };
  }
}

/** Waits until the holder has received `expected` events since its reset (at most 5 s). */
async function received(holder: Holder, expected: number): Promise<HolderReport> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const report = await holder.ask({ type: 'report' }, 'report');
    if (report.received >= expected || Date.now() > deadline) return report;
    await sleep(100);
  }
}

/** What one rate window measured. */
export interface RateWindow {
  /** Publishes acknowledged within the window, per second. */
  perSec: number;
  /** Publishes issued in the window (all of them end, acknowledged or failed). */
  published: number;
  publishErrors: number;
  /** Acknowledged but not received by the holder within 5 s. */
  lost: number;
  redisCpuUsPerPublish: number | null;
  scriptUsPerCall: number | null;
  announceUsPerCall: number | null;
  cpu: { redis: number; publisher: number; holder: number };
}

async function rateWindow(
  holder: Holder,
  publishing: Publishing,
  nodes: readonly BenchRedis[],
  config: ScalingConfig,
): Promise<RateWindow> {
  await holder.ask({ type: 'reset', fromSeq: publishing.seq }, 'reset');
  const holder0 = await holder.ask({ type: 'report' }, 'report');
  const redis0 = await redisCost(nodes);
  const bench0 = process.cpuUsage();
  const wall0 = performance.now();
  const rate = await publishing.saturate(config.inFlight, config.windowMs, config.maxPublishes);
  const wallMs = performance.now() - wall0;
  const bench = process.cpuUsage(bench0);
  const redis1 = await redisCost(nodes);
  const report = await received(holder, rate.acked);
  const pct = (us: number): number => Math.round((us / 1000 / wallMs) * 100);
  const per = (d: { calls: number; usec: number }, e: { calls: number; usec: number }) =>
    e.calls > d.calls ? (e.usec - d.usec) / (e.calls - d.calls) : null;
  return {
    perSec: rate.perSec,
    published: rate.issued,
    publishErrors: rate.failed,
    lost: Math.max(0, rate.acked - report.received),
    redisCpuUsPerPublish: rate.issued > 0 ? (redis1.cpuUs - redis0.cpuUs) / rate.issued : null,
    scriptUsPerCall: per(redis0.script, redis1.script),
    announceUsPerCall: per(redis0.announce, redis1.announce),
    cpu: {
      redis: pct(redis1.cpuUs - redis0.cpuUs),
      publisher: pct(bench.user + bench.system),
      holder: pct(report.cpuUs - holder0.cpuUs),
    },
  };
}

/** One step of a setup: its own Redis (or cluster), holder and publisher. */
interface StepRig {
  readonly scopes: number;
  readonly nodes: readonly BenchRedis[];
  readonly holder: Holder;
  readonly publishing: Publishing;
  stop(): Promise<void>;
}

async function startStep(
  setup: ScalingSetup,
  config: ScalingConfig,
  scopes: number,
): Promise<StepRig> {
  const single = setup.cluster ? undefined : await startRedis();
  const cluster = setup.cluster ? await startRedisCluster() : undefined;
  const rootNodes = cluster?.rootNodes.map((n) => n.url).join(',');
  const holder: Holder = peer(
    launch(
      process.execPath,
      nodeArgs(here('holder.ts'), ['--expose-gc']),
      `scaling holder (${setup.name}, ${scopes})`,
      true,
      {
        CHANNELS: setup.channels,
        INSTANCES: String(config.instances),
        ...(rootNodes ? { REDIS_CLUSTER: rootNodes } : { REDIS_URL: single?.url ?? '' }),
      },
    ),
    'scaling holder',
  );
  // The publisher is a process of its own kind in production (a worker that only publishes).
  // It waits up to 30 s for Redis (the default 5 s): with pattern channels at 100,000 scopes a
  // batch of publishes in flight takes seconds, and the window must count them, not fail them.
  const broker = createRedisBroker({
    ...(cluster
      ? { cluster: { rootNodes: cluster.rootNodes } }
      : { url: single?.url ?? '', channels: setup.channels }),
    publishTimeoutMs: 30_000,
  });
  return {
    scopes,
    nodes: single ? [single] : (cluster?.nodes ?? []),
    holder,
    publishing: new Publishing(createPublisher({ broker }), config.hotScopes),
    async stop() {
      await broker.close().catch(() => undefined);
      await holder.kill();
      single?.stop();
      await cluster?.stop();
    },
  };
}

/**
 * One setup: every step at once, each with its scopes open on Redis processes of its own, then
 * the rate windows in rounds, one step after the other (each round starting one step further on),
 * so that a disturbance of the shared machine falls on every step alike instead of on whichever
 * step it hit; then each step's latency.
 */
async function runSetup(setup: ScalingSetup, config: ScalingConfig): Promise<ScalingSetupResult> {
  const t0 = Date.now();
  const result: ScalingSetupResult = {
    setup,
    steps: [],
    heapPerScope: null,
    rssPerScope: null,
    gaps: 0,
    errors: 0,
    durationMs: 0,
  };
  const rigs: StepRig[] = [];
  try {
    const opened = new Map<StepRig, { ms: number; failed: number }>();
    const memory = new Map<StepRig, { heapUsed: number; rss: number }>();
    for (const scopes of config.steps) {
      const rig = await startStep(setup, config, scopes);
      rigs.push(rig);
      await rig.holder.ask(null, 'ready', 30_000);
      const opening = performance.now();
      const answer = await rig.holder.ask({ type: 'open', from: 1, to: scopes }, 'opened', 300_000);
      opened.set(rig, { ms: performance.now() - opening, failed: answer.failed });
      if (answer.failed > 0)
        console.warn(`    ${answer.failed} scopes failed to open: ${answer.error}`);
      memory.set(rig, await rig.holder.ask({ type: 'memory' }, 'memory'));
      console.log(
        `    ${int(scopes)} scopes opened in ${((opened.get(rig)?.ms ?? 0) / 1000).toFixed(1)} s (at ${((Date.now() - t0) / 1000).toFixed(0)} s)`,
      );
    }
    // Scripts loaded, connections and code warm: unmeasured.
    for (const rig of rigs) {
      await rig.publishing.saturate(config.inFlight, config.warmupMs, config.maxPublishes);
    }
    await sleep(200);
    const windows = new Map<StepRig, RateWindow[]>(rigs.map((rig) => [rig, []]));
    for (let round = 0; round < config.rounds; round++) {
      const shift = round % rigs.length;
      for (const rig of [...rigs.slice(shift), ...rigs.slice(0, shift)]) {
        windows.get(rig)?.push(await rateWindow(rig.holder, rig.publishing, rig.nodes, config));
      }
    }
    for (const rig of rigs) {
      const mine = windows.get(rig) ?? [];
      // The best window (a disturbance only ever slows one down).
      const best = mine.reduce((a, b) => (b.perSec > a.perSec ? b : a));
      // The latency: paced well below that rate (at most a quarter), with at least 20 events.
      const paceRate = Math.max(1, Math.min(config.latencyRate, best.perSec / 4));
      const paceMs = Math.min(
        2 * config.latencyMs,
        Math.max(config.latencyMs, (20 / paceRate) * 1000),
      );
      await rig.holder.ask({ type: 'reset', fromSeq: rig.publishing.seq }, 'reset');
      const paced = await rig.publishing.paced(paceRate, paceMs);
      const paceReport = await received(rig.holder, paced.acked);
      const hist = new Hist();
      hist.merge(paceReport.hist);
      const step: ScalingStep = {
        scopes: rig.scopes,
        openMs: opened.get(rig)?.ms ?? 0,
        failedToOpen: opened.get(rig)?.failed ?? 0,
        ...best,
        windowsPerSec: mine.map((w) => w.perSec),
        publishErrors: mine.reduce((n, w) => n + w.publishErrors, paced.failed),
        latency: {
          rate: paceRate,
          samples: hist.total,
          p50Ms: hist.quantileMs(0.5),
          p99Ms: hist.quantileMs(0.99),
        },
        lost: mine.reduce((n, w) => n + w.lost, Math.max(0, paced.acked - paceReport.received)),
        heapUsed: memory.get(rig)?.heapUsed ?? 0,
        rss: memory.get(rig)?.rss ?? 0,
      };
      result.steps.push(step);
      result.gaps += paceReport.gaps;
      result.errors += paceReport.errors;
      console.log(
        `    ${int(rig.scopes)} scopes: ${int(step.perSec)} publishes/s (${mine.map((w) => int(w.perSec)).join(', ')}), ` +
          `Redis ${step.redisCpuUsPerPublish?.toFixed(0)} µs CPU/publish, p99 ${step.latency.p99Ms?.toFixed(2)} ms at ${int(paceRate)}/s, lost ${step.lost}`,
      );
    }
    const [prev, last] = result.steps.slice(-2);
    if (prev && last) {
      result.heapPerScope = perScope(last.heapUsed - prev.heapUsed, last.scopes - prev.scopes);
      result.rssPerScope = perScope(last.rss - prev.rss, last.scopes - prev.scopes);
    }
  } catch (err) {
    result.failure = err instanceof Error ? err.message : String(err);
    console.error(`    ${setup.name} FAILED: ${result.failure}`);
  } finally {
    for (const rig of rigs) await rig.stop();
    result.durationMs = Date.now() - t0;
  }
  return result;
}

/** Every setup in turn, each on Redis processes of its own. */
export async function scaling(config: Config): Promise<ScalingResult> {
  const t0 = Date.now();
  const setups: ScalingSetupResult[] = [];
  for (const setup of SCALING_SETUPS) {
    console.log(`  ${setup.name}`);
    setups.push(await runSetup(setup, config.scaling));
  }
  return { config: config.scaling, setups, durationMs: Date.now() - t0 };
}
