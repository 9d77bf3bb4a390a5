/**
 * The presence scenario (issue 30): what presence costs Redis. eventrail on a Redis broker with
 * `presence: { events: true }`, every connection another user, N connections over N/10 scopes
 * (10,000 over 1,000 in a full run). Read from the bench's own redis-server (INFO commandstats and
 * INFO stats' network bytes, no MONITOR), in three windows: the joins (connect everyone, until
 * Redis is quiet), the refreshes (idle for {@link REFRESHES} intervals), the leaves (every client
 * closes, until Redis is quiet). The same run without presence first, as the baseline the
 * presence's cost is read against (opening a stream reads its start position, subscribes a scope).
 */
import { EVENTRAIL_PRESENCE, SSE_SYSTEMS, type SystemSpec } from '../catalog.js';
import { type BenchRedis, commandCalls, commandDelta } from '../redis.js';
import { startRig } from '../rig.js';
import type { Bench } from '../scenarios.js';

/** The presence interval the server runs with (PRESENCE_INTERVAL_MS), ms. */
export const PRESENCE_INTERVAL_MS = 2000;
/** Intervals the refresh window lasts. */
export const REFRESHES = 3;
/** Redis is quiet once no command came for this long (above the 500 ms debounce). */
const QUIET_MS = 1500;
/** A window that never goes quiet is cut here. */
const SETTLE_BOUND_MS = 30_000;

/** Redis traffic of one window. */
export interface RedisCost {
  /** Commands by name (admin readings left out). */
  readonly commands: Record<string, number>;
  readonly total: number;
  /** INFO stats' total_net_input_bytes and total_net_output_bytes differences. */
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly ms: number;
}

/** One system's three windows. */
export interface PresenceWindows {
  readonly connections: number;
  readonly scopes: number;
  readonly failed: number;
  readonly joins: RedisCost;
  readonly refresh: RedisCost;
  /** Intervals the refresh window held (its length over the interval). */
  readonly intervals: number;
  readonly leaves: RedisCost;
}

export interface PresenceResult {
  readonly presence: PresenceWindows;
  /** eventrail/redis without presence, the same windows. */
  readonly baseline: PresenceWindows | undefined;
}

interface Snapshot {
  readonly calls: Map<string, number>;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly at: number;
}

async function snapshot(redis: BenchRedis): Promise<Snapshot> {
  const calls = await commandCalls(redis.admin);
  const info = String(await redis.admin.command('INFO', 'stats'));
  const read = (key: string): number =>
    Number(new RegExp(`^${key}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
  return {
    calls,
    bytesIn: read('total_net_input_bytes'),
    bytesOut: read('total_net_output_bytes'),
    at: Date.now(),
  };
}

function cost(before: Snapshot, after: Snapshot): RedisCost {
  const delta = commandDelta(before.calls, after.calls);
  let total = 0;
  for (const n of delta.values()) total += n;
  return {
    commands: Object.fromEntries(delta),
    total,
    bytesIn: after.bytesIn - before.bytesIn,
    bytesOut: after.bytesOut - before.bytesOut,
    ms: after.at - before.at,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until Redis received no command (but the admin's) for {@link QUIET_MS}. */
async function quiet(redis: BenchRedis): Promise<void> {
  const deadline = Date.now() + SETTLE_BOUND_MS;
  let last = await commandCalls(redis.admin);
  let still = Date.now();
  while (Date.now() < deadline) {
    await sleep(250);
    const now = await commandCalls(redis.admin);
    if (commandDelta(last, now).size > 0) still = Date.now();
    else if (Date.now() - still >= QUIET_MS) return;
    last = now;
  }
}

/** Runs the scenario on the bench's redis-server and workers: the baseline, then presence. */
export async function presence(bench: Bench, label: string): Promise<PresenceResult> {
  const plain = SSE_SYSTEMS.find((spec) => spec.name === 'eventrail/redis');
  const baseline = plain && (await windows(plain, bench, `${label}-baseline`));
  return { presence: await windows(EVENTRAIL_PRESENCE, bench, label), baseline };
}

async function windows(spec: SystemSpec, bench: Bench, label: string): Promise<PresenceWindows> {
  const { redis, workers, probe, config } = bench;
  const connections = config.connections;
  const scopes = Math.max(1, Math.round(connections / 10));
  const rig = await startRig(spec, redis, workers, probe, config, label);
  try {
    await quiet(redis);
    const start = await snapshot(redis);
    const assignment = Array.from({ length: connections }, (_, i) => 1 + (i % scopes));
    const { connected, failed } = await rig.connect(assignment);
    if (failed > 0) console.warn(`  ${spec.name}: ${failed} of ${connections} connections failed`);
    await quiet(redis);
    const joined = await snapshot(redis);
    // The refresh: the window is the joins' quiet time plus whole intervals.
    await sleep(REFRESHES * PRESENCE_INTERVAL_MS);
    const refreshed = await snapshot(redis);
    await Promise.all(workers.map((w) => w.ask({ type: 'close' }, 'closed', 30_000)));
    await quiet(redis);
    const left = await snapshot(redis);
    return {
      connections: connected,
      scopes,
      failed,
      joins: cost(start, joined),
      refresh: cost(joined, refreshed),
      intervals: (refreshed.at - joined.at) / PRESENCE_INTERVAL_MS,
      leaves: cost(refreshed, left),
    };
  } finally {
    await rig.stop();
  }
}
