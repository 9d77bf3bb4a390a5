/**
 * `npm run bench [-- --quick] [--json FILE] [--profile] [--trace-gc] [--only a,b] [--connections N]
 *   [--scenarios fanout,scopes,churn,cores,scaling,catch-up,presence,storm,box] [--storm-streams N]
 *   [--box-connections N] [--out DIR]`
 *
 * Starts its own redis-server, then every system in turn (alternating, same client, loopback) for
 * each scenario, and writes docs/bench.md and docs/bench.svg. Kills every child on exit.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { box, boxSystems } from './box.js';
import {
  CORES_EVENTRAIL,
  CORES_FLOOR,
  EVENTRAIL_NO_HISTORY,
  EVENTRAIL_PRESENCE,
  GO_ORIGINAL,
  SOCKET_IO,
  SSE_SYSTEMS,
  type SystemSpec,
  slug,
} from './catalog.js';
import { catchUp } from './catchup/scenario.js';
import { parseConfig } from './config.js';
import { prepareGo } from './go-peer.js';
import { presence } from './presence/scenario.js';
import { killAll } from './procs.js';
import type { Results } from './records.js';
import { startRedis } from './redis.js';
import { writeReport } from './report.js';
import { startProbe, startWorkers } from './rig.js';
import { scaling } from './scaling/scenario.js';
import { type Bench, churn, interleavedLatency, load } from './scenarios.js';
import { storm } from './storm/scenario.js';

const config = parseConfig(process.argv.slice(2));
const started = Date.now();
// A full run took 26 min on an idle machine, and 30 min was reached in its last scenario when the
// machine ran slower (2026-12-08): the limit stops a run that hangs, not one that is slow.
const limitMs = config.quick ? 6 * 60_000 : 45 * 60_000;
setTimeout(() => {
  console.error(`bench: over its ${limitMs / 60_000} min limit; stopping everything`);
  killAll();
  process.exit(2);
}, limitMs).unref();

const fdLimit = Number(spawnSync('sh', ['-c', 'ulimit -n']).stdout.toString().trim());
if (Number.isFinite(fdLimit) && fdLimit < config.connections + 1024) {
  console.error(
    `bench: ulimit -n is ${fdLimit}; ${config.connections} connections need ${config.connections + 1024}. ` +
      'Run it through `npm run bench` (which raises it) or lower --connections.',
  );
  process.exit(1);
}

const pick = (specs: readonly SystemSpec[]): SystemSpec[] =>
  specs.filter((s) => config.only === undefined || config.only.includes(s.name));
// The history-less and presence variants cost another 45 s each: full runs only, unless asked
// for by name (the presence one is the Redis system with presence on, its events included).
const systems = pick([
  ...SSE_SYSTEMS,
  ...(config.quick && config.only === undefined ? [] : [EVENTRAIL_NO_HISTORY, EVENTRAIL_PRESENCE]),
]);
const withSocketIo = pick([SOCKET_IO]).length > 0;

const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0)}s`;
async function attempt<T>(what: string, body: () => Promise<T>): Promise<T | undefined> {
  const t0 = Date.now();
  try {
    const result = await body();
    console.log(`  ${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s (at ${elapsed()})`);
    return result;
  } catch (err) {
    console.error(`  ${what} FAILED: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

const results: Results = { fanout: new Map(), scopes: new Map(), churn: new Map(), windows: {} };
if (config.profile || config.traceGc) {
  rmSync(config.profileDir, { recursive: true, force: true });
  mkdirSync(config.profileDir, { recursive: true });
}

/**
 * Full runs: the latency of each system that completed the scenario's load, again in interleaved
 * windows with every one of them up at once (see interleavedLatency); it replaces the load's own
 * steady phase as the system's latency.
 */
async function interleave(
  scenario: 'fanout' | 'scopes',
  specs: readonly SystemSpec[],
  scopes: number,
): Promise<void> {
  const measured = specs.filter((spec) => results[scenario].has(spec.name));
  if (config.latencyRounds <= 1 || measured.length === 0) return;
  console.log(
    `${scenario}, latency: ${config.latencyRounds} rounds of ${config.latencyWindowMs / 1000} s windows, every system up at once`,
  );
  const windows = await attempt('interleaved latency', () =>
    interleavedLatency(measured, bench, scopes),
  );
  for (const [name, rounds] of windows ?? []) {
    const r = results[scenario].get(name);
    if (r && rounds.length > 0) r.windows = rounds;
  }
}

/** A load's steady phase: shorter where the interleaved windows measure the latency after it. */
const aloneMs = (spec: SystemSpec): number =>
  config.latencyRounds > 1 && spec !== SOCKET_IO ? config.aloneSteadyMs : config.steadyMs;

let goCleanup = (): void => {};
const redis = await startRedis();
const bench: Bench = { redis, workers: startWorkers(config), probe: startProbe(), config };
try {
  const n = config.connections;
  console.log(
    `bench: ${n} connections, ${config.quick ? 'quick' : 'full'} run, redis :${redis.port}`,
  );
  // The Go original: a peer in the fan-out only (its latency in the interleaved windows too).
  const go = await prepareGo(
    (config.scenarios.includes('fanout') || config.scenarios.includes('cores')) &&
      pick([GO_ORIGINAL]).length > 0,
  );
  goCleanup = go.remove;
  const fanoutSse = config.scenarios.includes('fanout') ? [...systems, ...go.specs] : [];
  const fanoutSystems = config.scenarios.includes('fanout')
    ? [...fanoutSse, ...(withSocketIo ? [SOCKET_IO] : [])]
    : [];
  if (fanoutSystems.length > 0) console.log(`fan-out: ${n} connections in 1 scope`);
  for (const spec of fanoutSystems) {
    const label = `fanout-${slug(spec.name)}`;
    const r = await attempt(spec.name, () => load(spec, bench, 1, label, aloneMs(spec)));
    if (r) {
      results.fanout.set(spec.name, r);
      results.windows[label] = r.saturation.window;
    }
  }
  // Socket.IO's latency is its load's own steady phase: it has a table of its own.
  await interleave('fanout', fanoutSse, 1);
  const scopeSystems = config.scenarios.includes('scopes') ? systems : [];
  if (scopeSystems.length > 0) console.log(`scopes: ${n} connections over ${n / 10} scopes`);
  for (const spec of scopeSystems) {
    const label = `scopes-${slug(spec.name)}`;
    const r = await attempt(spec.name, () => load(spec, bench, n / 10, label, aloneMs(spec)));
    if (r) {
      results.scopes.set(spec.name, r);
      results.windows[label] = r.saturation.window;
    }
  }
  await interleave('scopes', scopeSystems, n / 10);
  const churnSystems = config.scenarios.includes('churn') ? systems : [];
  if (churnSystems.length > 0)
    console.log(`churn: ${config.churnPerSec}/s for ${config.churnMs / 1000} s`);
  for (const spec of churnSystems) {
    const r = await attempt(spec.name, () => churn(spec, bench, `churn-${slug(spec.name)}`));
    if (r) results.churn.set(spec.name, r);
  }
  const coreSystems = config.scenarios.includes('cores')
    ? [...pick([CORES_EVENTRAIL, CORES_FLOOR]), ...go.specs]
    : [];
  if (coreSystems.length > 0) console.log(`all cores: ${n} connections in 1 scope`);
  results.cores = new Map();
  for (const spec of coreSystems) {
    const label = `cores-${slug(spec.name)}`;
    const r = await attempt(spec.name, () => load(spec, bench, 1, label, config.steadyMs));
    if (r) results.cores.set(spec.name, r);
  }
  if (config.scenarios.includes('box')) {
    const { box: size } = config;
    console.log(
      `box: ${size.connections} streams over ${size.scopes} scopes, ${size.eventsPerSec} events/s, ${size.serverWorkers} server processes, ${size.rounds} round(s) taken in turn`,
    );
    results.box = await box(bench, pick(boxSystems(config)), attempt);
  }
  if (config.scenarios.includes('scaling')) {
    const { steps } = config.scaling;
    console.log(`scaling: publishes as the open scopes grow ${steps.join(' -> ')}`);
    results.scaling = await attempt('scaling', () => scaling(config));
  }
  if (config.scenarios.includes('catch-up')) {
    console.log('catch-up: replay to one client and to a crowd, against the floor; a storm');
    results.catchUp = await attempt('catch-up', () => catchUp(config, redis));
  }
  if (config.scenarios.includes('storm')) {
    const perInstance = config.stormStreams;
    console.log(`storm: 2 instances x ${perInstance} streams, one killed, then one drained`);
    const scopes = Math.max(1, Math.round(perInstance / 100));
    results.storm = await attempt('storm', () =>
      storm({ perInstance, scopes, deadlineMs: 60_000 }, redis),
    );
  }
  if (config.scenarios.includes('presence')) {
    console.log(`presence: Redis cost of ${n} users joining ${n / 10} scopes, refreshing, leaving`);
    results.presence = await attempt('presence', () => presence(bench, 'presence'));
  }
} finally {
  for (const worker of bench.workers) await worker.kill();
  await redis.stop();
  goCleanup();
}

const records = writeReport(results, config, Date.now() - started);
if (config.json !== undefined) {
  writeFileSync(config.json, `${JSON.stringify(records, null, 2)}\n`);
  console.log(`bench: ${records.length} records in ${config.json}`);
}
if (config.profile) {
  writeFileSync(`${config.profileDir}/windows.json`, JSON.stringify(results.windows));
  console.log(`bench: CPU profiles in ${config.profileDir} (npx tsx bench/profile.ts)`);
}
console.log(`bench: done in ${elapsed()}`);
killAll();
// Nothing the bench started may keep it alive (a failed phase could leave a handle behind).
process.exit(0);
