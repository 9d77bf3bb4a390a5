/**
 * The measuring phases, each bounded in time: a steady rate for latency, and a closed loop that
 * keeps a window of events in flight for throughput at saturation.
 */
import type { Config } from './config.js';
import { Hist } from './hist.js';
import { InFlight } from './in-flight.js';
import { nowUs, type WorkerReport } from './protocol.js';
import type { Rig, ServerStats } from './rig.js';
import { loopDelay } from './stalls.js';

let nextSeq = 1;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const scopeOfSeq = (seq: number, scopes: number): number => (seq % scopes) + 1;

/** This process's own event-loop delay: it publishes, so its stalls delay events too. */
const benchDelay = loopDelay();
/** This process's full collection (`npm run bench` runs it with --expose-gc). */
const benchGc = (globalThis as { gc?: () => void }).gc;

/**
 * How long a measured window's last events get to arrive at least; the server's CPU counts over
 * it too. Events not received everywhere by then get up to {@link LATE_MS} more.
 */
export const TAIL_MS = 500;
/** After {@link TAIL_MS}, how long the bench waits for a window's events still on their way. */
const LATE_MS = 4500;

export interface SteadyResult {
  events: number;
  /** Published in the unmeasured warm-up before (they count in the Redis commands per event). */
  warmupEvents: number;
  deliveries: number;
  /**
   * The window's events not received by every connection {@link TAIL_MS} + {@link LATE_MS} after
   * it: their missing deliveries are not in the latencies.
   */
  undelivered: number;
  p50Ms: number | null;
  p99Ms: number | null;
  /**
   * The longest event-loop delay in the window (see bench/stalls.ts) of the server, of the load
   * workers (the longest of theirs), of this bench process (it publishes to the Redis-backed
   * systems) and of the idle probe (the machine's); and the longest event Redis recorded itself.
   */
  stalls: {
    serverMs: number;
    workersMs: number;
    benchMs: number;
    redisMs: number;
    machineMs: number;
  };
  /** Every measured delivery's latency, as {@link Hist.pairs} (empty for rounds taken as one). */
  latencies: number[];
  /**
   * Server CPU µs over the measured window and the {@link TAIL_MS} after it:
   * with `events`, the server's own cost per event at the steady rate, which the machine's other
   * load shifts far less than it shifts the tails.
   */
  serverCpuUs: number;
}

/** Server CPU ms per event published in the measured window(s), or null without events. */
export function serverMsPerEvent(r: SteadyResult): number | null {
  return r.events === 0 ? null : r.serverCpuUs / r.events / 1000;
}

/**
 * Publishes `eventsPerSec` for `ms`, round-robin over scopes, telling `onPublish` of each event;
 * resolves with the count.
 */
function paced(
  rig: Rig,
  eventsPerSec: number,
  ms: number,
  scopes: number,
  onPublish: (seq: number, scope: number) => void = () => {},
): Promise<number> {
  const start = Date.now();
  let events = 0;
  return new Promise<number>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Date.now() - start;
      const due = Math.floor((Math.min(elapsed, ms) / 1000) * eventsPerSec);
      while (events < due) {
        const seq = nextSeq++;
        const scope = scopeOfSeq(seq, scopes);
        onPublish(seq, scope);
        rig.publish(seq, scope);
        events++;
      }
      if (elapsed >= ms) {
        clearInterval(timer);
        resolve(events);
      }
    }, 5);
  });
}

/** The steady rate in events per second: the configured deliveries over connections per event. */
function steadyEventsPerSec(config: Config, scopes: number): number {
  const rate = scopes === 1 ? config.steadyDeliveriesPerSec : config.steadyScopesDeliveriesPerSec;
  return rate / (config.connections / scopes);
}

/** Publishes at the steady rate for `ms`, unmeasured; resolves with the count. */
export function warmUp(rig: Rig, config: Config, scopes: number, ms: number): Promise<number> {
  return paced(rig, steadyEventsPerSec(config, scopes), ms, scopes);
}

/**
 * Publishes `deliveriesPerSec / connections-per-event` events per second, round-robin over scopes:
 * first for the warm-up, unmeasured (a fresh server compiles its hot path meanwhile: on
 * eventrail that put p99 at 2x its warm value), then for the measured window. `timing` overrides
 * the config's warm-up and window (the interleaved latency windows are shorter), and how long the
 * warm-up's last events get to arrive before the window starts (`settleMs`, 500 by default). Only
 * the window's own events are measured: a warm-up event arriving in it loads the machine but is
 * not counted, and a window event arriving after it counts with its full latency (the bench waits
 * {@link TAIL_MS}, and up to {@link LATE_MS} more for events not yet received everywhere).
 */
export async function steady(
  rig: Rig,
  config: Config,
  scopes: number,
  timing: { warmupMs: number; steadyMs: number; settleMs?: number } = config,
): Promise<SteadyResult> {
  // The bench publishes: a full collection of its own inside a window (100-150 ms seen) would
  // hold that window's events before they reach Redis. It collects now, while nothing is measured.
  benchGc?.();
  const warmupEvents = await warmUp(rig, config, scopes, timing.warmupMs);
  await sleep(timing.settleMs ?? 500);
  // The warm-up's events still arriving (one scope: a fan-out takes up to ~300 ms) load the
  // window, but their latencies are the warm-up's.
  for (const w of rig.workers) w.send({ type: 'reset', fromSeq: nextSeq });
  rig.probe.send({ type: 'reset' });
  await rig.redisStallMs();
  benchDelay.reset();
  const before = await rig.stats(false, 'start');
  const inFlight = new InFlight(rig);
  let events: number;
  let undelivered: number;
  try {
    events = await paced(
      rig,
      steadyEventsPerSec(config, scopes),
      timing.steadyMs,
      scopes,
      (seq, scope) => inFlight.add(seq, scope),
    );
    await sleep(TAIL_MS);
    // A slow fan-out's last deliveries would otherwise go uncounted: the window's tail is theirs.
    const late = Date.now() + LATE_MS;
    while (inFlight.size > 0 && Date.now() < late) await sleep(20);
    undelivered = inFlight.size;
  } finally {
    inFlight.close();
  }
  const benchMs = benchDelay.maxMs();
  const [reports, after, probe, redisMs] = await Promise.all([
    rig.reports(),
    rig.stats(false, 'end'),
    rig.probe.ask({ type: 'read' }, 'delay'),
    rig.redisStallMs(),
  ]);
  const hist = new Hist();
  for (const r of reports) hist.merge(r.hist);
  return {
    events,
    warmupEvents,
    deliveries: reports.reduce((n, r) => n + r.deliveries, 0),
    undelivered,
    p50Ms: hist.quantileMs(0.5),
    p99Ms: hist.quantileMs(0.99),
    latencies: hist.pairs(),
    stalls: {
      serverMs: after.loopMaxMs,
      workersMs: Math.max(0, ...reports.map((r) => r.loopMaxMs)),
      benchMs,
      redisMs,
      machineMs: probe.maxMs,
    },
    serverCpuUs: after.cpuUs - before.cpuUs,
  };
}

/**
 * Rounds of the steady phase as one: the median p50 and p99 of the rounds (the lower middle), the
 * sums of the counts, the longest stalls. A round's p99 rests on its ~150 slowest deliveries, so
 * one stall of the shared machine moves it several-fold; the median of the rounds does not move
 * with one such round, where the rounds pooled (reported beside it, see {@link pooledP99Ms})
 * can move with it many-fold.
 */
export function medianRound(rounds: readonly SteadyResult[]): SteadyResult {
  const median = (values: (number | null)[]): number | null => {
    const known = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
    return known.length === 0 ? null : (known[Math.floor((known.length - 1) / 2)] as number);
  };
  const sum = (
    key: 'events' | 'warmupEvents' | 'deliveries' | 'undelivered' | 'serverCpuUs',
  ): number => rounds.reduce((n, r) => n + r[key], 0);
  const longest = (key: keyof SteadyResult['stalls']): number =>
    Math.max(0, ...rounds.map((r) => r.stalls[key]));
  return {
    events: sum('events'),
    warmupEvents: sum('warmupEvents'),
    deliveries: sum('deliveries'),
    undelivered: sum('undelivered'),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    latencies: [],
    stalls: {
      serverMs: longest('serverMs'),
      workersMs: longest('workersMs'),
      benchMs: longest('benchMs'),
      redisMs: longest('redisMs'),
      machineMs: longest('machineMs'),
    },
    serverCpuUs: sum('serverCpuUs'),
  };
}

/** The p99 over every delivery of every round (their histograms merged), or null without any. */
export function pooledP99Ms(rounds: readonly SteadyResult[]): number | null {
  const hist = new Hist();
  for (const r of rounds) hist.merge(r.latencies);
  return hist.quantileMs(0.99);
}

export interface SaturationResult {
  events: number;
  deliveredPerSec: number;
  /** Events not received by every connection within 5 s (during the phase). */
  lost: number;
  /** Connections the server ended since they connected (limits, backpressure). */
  dropped: number;
  /** CPU of each load worker and of the server, in % of one core, over the measured window. */
  clientCpu: number[];
  serverCpu: number;
  redisCpu: number;
  /** This process: publishing and window bookkeeping. */
  benchCpu: number;
  /** Everything else on the machine (other users' processes, the kernel's own work). */
  othersCpu: number;
  /** Server CPU µs per delivered event. */
  serverUsPerDelivery: number;
  /** The measured window on the monotonic clock (µs), to cut CPU profiles to it. */
  window: [number, number];
}

/**
 * Keeps `window` events in flight: the next is published as soon as every connection has one.
 * Measures deliveries between the end of the warm-up and the end of the phase.
 */
export async function saturate(
  rig: Rig,
  config: Config,
  scopes: number,
): Promise<SaturationResult> {
  const window = scopes === 1 ? 32 : Math.min(scopes * 8, 4096);
  let publishing = true;
  let events = 0;
  let lost = 0;
  const refill = (): void => {
    while (publishing && inFlight.size < window) {
      const seq = nextSeq++;
      const scope = scopeOfSeq(seq, scopes);
      inFlight.add(seq, scope);
      events++;
      rig.publish(seq, scope);
    }
  };
  for (const w of rig.workers) w.send({ type: 'reset' });
  const inFlight = new InFlight(rig, refill);
  const expire = setInterval(() => {
    lost += inFlight.expire(5000);
    refill();
  }, 250);
  try {
    refill();
    await sleep(config.warmupMs);
    const snapshot = () => Promise.all([rig.reports(), rig.stats(), rig.otherCpu(), nowUs()]);
    const [r0, s0, o0, t0] = await snapshot();
    await sleep(config.saturationMs);
    const [r1, s1, o1, t1] = await snapshot();
    return result(r0, r1, s0, s1, o0, o1, t0, t1, events, lost);
  } finally {
    // What is still in flight is not measured: the rig is torn down next, no need to wait for it.
    publishing = false;
    clearInterval(expire);
    inFlight.close();
  }
}

type OtherCpu = Awaited<ReturnType<Rig['otherCpu']>>;

function result(
  r0: WorkerReport[],
  r1: WorkerReport[],
  s0: ServerStats,
  s1: ServerStats,
  o0: OtherCpu,
  o1: OtherCpu,
  t0: number,
  t1: number,
  events: number,
  lost: number,
): SaturationResult {
  const us = t1 - t0;
  const s = summarize(r0, r1, s0, s1, us, events, lost);
  return {
    ...s,
    redisCpu: Math.round(((o1.redisUs - o0.redisUs) * 100) / us),
    benchCpu: Math.round(((o1.benchUs - o0.benchUs) * 100) / us),
    othersCpu: Math.max(
      0,
      Math.round(
        ((o1.machineUs - o0.machineUs - (o1.redisUs - o0.redisUs) - (o1.benchUs - o0.benchUs)) *
          100) /
          us -
          s.serverCpu -
          s.clientCpu.reduce((a, b) => a + b, 0),
      ),
    ),
    window: [t0, t1],
  };
}

function summarize(
  r0: { deliveries: number; cpuUs: number }[],
  r1: { deliveries: number; cpuUs: number; dropped: number }[],
  s0: ServerStats,
  s1: ServerStats,
  us: number,
  events: number,
  lost: number,
): Omit<SaturationResult, 'redisCpu' | 'benchCpu' | 'othersCpu' | 'window'> {
  const deliveries = r1.reduce((n, r, i) => n + r.deliveries - (r0[i]?.deliveries ?? 0), 0);
  const serverCpuUs = s1.cpuUs - s0.cpuUs;
  return {
    events,
    deliveredPerSec: Math.round((deliveries * 1e6) / us),
    lost,
    clientCpu: r1.map((r, i) => Math.round(((r.cpuUs - (r0[i]?.cpuUs ?? 0)) * 100) / us)),
    serverCpu: Math.round((serverCpuUs * 100) / us),
    serverUsPerDelivery: deliveries > 0 ? serverCpuUs / deliveries : 0,
    dropped: r1.reduce((n, r) => n + r.dropped, 0),
  };
}
