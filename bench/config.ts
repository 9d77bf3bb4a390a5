/** Command line and the sizes of a quick or full run. */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the published figures live: only a full run of everything may replace them. */
export const PUBLISHED_DIR = fileURLToPath(new URL('../docs', import.meta.url));

/** What a run without --scenarios runs. */
export const SCENARIOS = [
  'fanout',
  'scopes',
  'churn',
  'cores',
  'scaling',
  'catch-up',
  'presence',
] as const;
/** Run only when asked for by name: each holds the machine's whole file limit for minutes. */
export const OPT_IN_SCENARIOS = ['storm', 'box'] as const;
export type Scenario = (typeof SCENARIOS)[number] | (typeof OPT_IN_SCENARIOS)[number];
const KNOWN: readonly string[] = [...SCENARIOS, ...OPT_IN_SCENARIOS];

/** The scaling scenario (bench/scaling): publish cost as the scopes held open grow. */
export interface ScalingConfig {
  /** Scopes held open at each step, in order; each step opens the difference. */
  steps: number[];
  /** Server instances (brokers, each with its own subscriber connection) sharing the scopes. */
  instances: number;
  /** Publishes are spread round-robin over the first this many scopes, the same at every step. */
  hotScopes: number;
  /** Publishes in flight at once while measuring the rate. */
  inFlight: number;
  /** The rate's window: it ends after this long or after `maxPublishes`, whichever comes first. */
  windowMs: number;
  /** Rate windows per step; the best one counts. */
  rounds: number;
  maxPublishes: number;
  /** Unmeasured publishing before a setup's first window. */
  warmupMs: number;
  /** The latency phase: paced at this rate (at most a quarter of the rate just measured), this long. */
  latencyRate: number;
  latencyMs: number;
}

/**
 * The box scenario (bench/box.ts): what one machine holds, every core serving, against the floor
 * run the same way. A process may open 20,000 files here, so the servers and the load workers
 * each split the streams over several processes.
 */
export interface BoxConfig {
  /** Open streams over the whole box (`--box-connections`). */
  connections: number;
  /** Scopes the streams spread over, evenly. */
  scopes: number;
  /** Events published per second over all scopes, round-robin (an app's invalidations). */
  eventsPerSec: number;
  /** Server processes (node:cluster workers) sharing the port. */
  serverWorkers: number;
  /** Load worker processes holding the streams. */
  loadWorkers: number;
  /** The measured steady window: long enough for every stream's heartbeat to pass in it. */
  steadyMs: number;
  /** Rounds in which the systems take turns (bench/box.ts); the median round is compared. */
  rounds: number;
}

export interface Config {
  quick: boolean;
  json: string | undefined;
  /** Write V8 CPU profiles of the eventrail servers. */
  profile: boolean;
  /** Log every server's garbage collections (V8 --trace-gc-nvp), for bench/gc.ts. */
  traceGc: boolean;
  /** Only these systems (names as in the tables). */
  only: string[] | undefined;
  /** Only these scenarios. */
  scenarios: Scenario[];
  connections: number;
  /** The storm scenario's streams per instance (`--storm-streams`). */
  stormStreams: number;
  box: BoxConfig;
  workers: number;
  /** Connections opened at once per worker. */
  concurrency: number;
  /** The steady rate of the one-scope fan-out, in deliveries per second over all connections. */
  steadyDeliveriesPerSec: number;
  /**
   * The steady rate over N/10 scopes: lower, because there every event reaches only 10
   * connections and the per-event work (Redis, decoding) dominates.
   */
  steadyScopesDeliveriesPerSec: number;
  steadyMs: number;
  /**
   * The steady phase of a load whose latency is then measured in interleaved windows (full runs,
   * every SSE system): what the system does alone at that rate, context beside the windows.
   */
  aloneSteadyMs: number;
  /**
   * Latency, full runs: rounds of windows with every system up at once, each
   * system measured in its own window in turn (see interleavedLatency). There the tails are a few
   * ms and move with whatever else the machine does, so the median window is reported. 1: the
   * load's own steady phase alone (quick runs).
   */
  latencyRounds: number;
  /** One system's measured window in a latency round. */
  latencyWindowMs: number;
  /** Unmeasured, at the steady rate, before each window. */
  latencyWarmupMs: number;
  /** Between a window's warm-up and its start. */
  latencySettleMs: number;
  warmupMs: number;
  saturationMs: number;
  churnPerSec: number;
  churnMs: number;
  churnHoldMs: number;
  profileDir: string;
  scaling: ScalingConfig;
  /**
   * Where bench.md and bench.svg go: `--out DIR`, else docs/ for a full run of every system and
   * scenario at the default size, else a temporary directory (a quick or limited run never
   * replaces the published figures).
   */
  outDir: string;
  command: string;
}

/** A path given on the command line, from where `npm run bench` was typed (npm runs us in bench/). */
function fromCaller(file: string | undefined): string | undefined {
  return file === undefined ? undefined : path.resolve(process.env.INIT_CWD ?? '.', file);
}

function value(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  if (at < 0) return undefined;
  const next = args[at + 1];
  if (next === undefined || next.startsWith('--')) throw new Error(`${flag} needs a value`);
  return next;
}

export function parseConfig(args: string[]): Config {
  const known = new Set([
    '--quick',
    '--json',
    '--profile',
    '--trace-gc',
    '--only',
    '--connections',
    '--scenarios',
    '--out',
    '--storm-streams',
    '--box-connections',
  ]);
  for (const arg of args) {
    if (arg.startsWith('--') && !known.has(arg)) throw new Error(`unknown option ${arg}`);
  }
  const quick = args.includes('--quick');
  const connections = Number(value(args, '--connections') ?? (quick ? 2000 : 10_000));
  if (!Number.isInteger(connections) || connections < 20) {
    throw new Error('--connections must be an integer >= 20');
  }
  // 9,000: the survivor then holds 18,000 streams under the 20,000 files a process may open here.
  const stormStreams = Number(value(args, '--storm-streams') ?? (quick ? 1000 : 9000));
  if (!Number.isInteger(stormStreams) || stormStreams < 10) {
    throw new Error('--storm-streams must be an integer >= 10');
  }
  const boxConnections = Number(value(args, '--box-connections') ?? (quick ? 4000 : 40_000));
  if (!Number.isInteger(boxConnections) || boxConnections < 1000) {
    throw new Error('--box-connections must be an integer >= 1000');
  }
  const scenarios = value(args, '--scenarios')?.split(',') ?? [...SCENARIOS];
  const unknown = scenarios.filter((s) => !KNOWN.includes(s));
  if (unknown.length > 0) {
    throw new Error(`--scenarios: unknown ${unknown.join(', ')} (known: ${KNOWN.join(', ')})`);
  }
  const only = value(args, '--only')?.split(',');
  const full =
    !quick &&
    only === undefined &&
    scenarios.length === SCENARIOS.length &&
    value(args, '--connections') === undefined;
  const outDir = fromCaller(value(args, '--out'));
  if (outDir === PUBLISHED_DIR && !full) {
    throw new Error(
      '--out: only a full run (no --quick, --only, --scenarios or --connections) may replace docs/',
    );
  }
  return {
    quick,
    scenarios: scenarios as Scenario[],
    json: fromCaller(value(args, '--json')),
    profile: args.includes('--profile'),
    traceGc: args.includes('--trace-gc'),
    only,
    connections,
    stormStreams,
    box: {
      connections: boxConnections,
      scopes: Math.max(10, Math.round(boxConnections / 40)),
      eventsPerSec: 10,
      // 10,000 streams per process at 40,000: half the file limit, the rest for everything else.
      serverWorkers: Math.max(2, Math.ceil(boxConnections / 10_000)),
      loadWorkers: Math.max(2, Math.ceil(boxConnections / 10_000)),
      steadyMs: quick ? 10_000 : 40_000,
      rounds: quick ? 1 : 3,
    },
    workers: 2,
    concurrency: 200,
    steadyDeliveriesPerSec: 20_000,
    steadyScopesDeliveriesPerSec: 5_000,
    steadyMs: quick ? 1500 : 15_000,
    aloneSteadyMs: quick ? 1500 : 5000,
    latencyRounds: quick ? 1 : 10,
    latencyWindowMs: 3000,
    latencyWarmupMs: 500,
    latencySettleMs: 200,
    warmupMs: quick ? 750 : 2000,
    saturationMs: quick ? 2000 : 10_000,
    churnPerSec: 1000,
    churnMs: quick ? 5000 : 30_000,
    churnHoldMs: 300,
    profileDir: path.join(os.tmpdir(), 'eventrail-bench-prof'),
    scaling: {
      steps: quick ? [1000, 10_000] : [1000, 10_000, 100_000],
      instances: 10,
      hotScopes: 1000,
      inFlight: 16,
      windowMs: quick ? 1000 : 3000,
      rounds: quick ? 1 : 3,
      maxPublishes: 200_000,
      warmupMs: quick ? 1000 : 2000,
      latencyRate: 500,
      latencyMs: quick ? 750 : 2000,
    },
    outDir: outDir ?? (full ? PUBLISHED_DIR : path.join(os.tmpdir(), 'eventrail-bench')),
    command: `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`,
  };
}
