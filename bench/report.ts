/** docs/bench.md and docs/bench.svg: tables, ratios against the floor and better-sse, the machine. */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { boxSystems } from './box.js';
import {
  BETTER_SSE,
  CORES_EVENTRAIL,
  CORES_FLOOR,
  EVENTRAIL_NO_HISTORY,
  FLOOR,
  GO_ORIGINAL,
  SOCKET_IO,
} from './catalog.js';
import { catchUpSection } from './catchup/report.js';
import { barChart } from './chart.js';
import type { Config } from './config.js';
import {
  medianRound,
  pooledP99Ms,
  type SteadyResult,
  serverMsPerEvent,
  TAIL_MS,
} from './phases.js';
import { presenceSection } from './presence/report.js';
import { type BenchRecord, type Results, toRecords } from './records.js';
import { REDIS_LATENCY_THRESHOLD_MS } from './redis.js';
import { scalingSection } from './scaling/report.js';
import { type LoadResult, MEMORY_RESOLUTION_BYTES, steadyOf } from './scenarios.js';
import { LOOP_RESOLUTION_MS } from './stalls.js';
import { stormSection } from './storm/report.js';

/** Where a report file goes (see {@link Config.outDir}). */
const out = (config: Config, file: string): string => {
  mkdirSync(config.outDir, { recursive: true });
  return path.join(config.outDir, file);
};
const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number | null): string => (n === null ? 'n/a' : n.toFixed(2));
const kb = (bytes: number | null): string =>
  bytes === null
    ? `below resolution (< ${(MEMORY_RESOLUTION_BYTES / 2 ** 20).toFixed(0)} MiB in all)`
    : `${(bytes / 1024).toFixed(1)} KB`;
const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a == null || b == null || b === 0 ? null : a / b;
const x = (r: number | null): string => (r === null ? 'n/a' : `${r.toFixed(2)}x`);
const verdict = (r: number | null, ok: (r: number) => boolean): string =>
  r === null ? 'not measured' : ok(r) ? 'met' : '**missed**';

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const memory = `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`;
  return `${cpu}, ${os.cpus().length} cores, ${memory} RAM, ${os.type()} ${os.release()}; Node ${process.version}`;
}

function loadTable(
  rows: Map<string, LoadResult>,
  config: Config,
  memory: boolean,
  steadyRate: number,
): string[] {
  const rounds = Math.max(0, ...[...rows.values()].map((r) => r.windows?.length ?? 0));
  const interleaved = rounds > 0;
  const head = [
    'system',
    'delivered/s',
    'p50 ms',
    'p99 ms',
    ...(interleaved ? ['p50 / p99 ms alone'] : []),
    ...(memory ? ['idle RSS/conn', 'idle heap/conn'] : []),
    'server CPU ms/event, steady',
    'server CPU',
    'server µs/delivery',
    'client CPU (per worker)',
    'Redis / bench / others CPU',
    'lost',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
  for (const [name, r] of rows) {
    const s = r.saturation;
    const latency = steadyOf(r);
    // A system that saturates near the steady rate queues during it: its latency is not comparable.
    const near = s.deliveredPerSec < 1.5 * steadyRate ? ' ⚠' : '';
    const cells = [
      name,
      `${int(s.deliveredPerSec)}${near}`,
      ms(latency.p50Ms),
      r.windows
        ? `${ms(latency.p99Ms)} (${r.windows.map((w) => ms(w.p99Ms)).join(' / ')})`
        : ms(latency.p99Ms),
      ...(interleaved ? [`${ms(r.alone.p50Ms)} / ${ms(r.alone.p99Ms)}`] : []),
      ...(memory ? [kb(r.rssPerConn), kb(r.heapPerConn)] : []),
      ms(serverMsPerEvent(latency)),
      `${s.serverCpu}%`,
      s.serverUsPerDelivery.toFixed(2),
      s.clientCpu.map((c) => `${c}%`).join(' + '),
      `${s.redisCpu}% / ${s.benchCpu}% / ${s.othersCpu}%`,
      String(
        s.lost + s.dropped + r.failed + latency.undelivered + (r.windows ? r.alone.undelivered : 0),
      ),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    `delivered/s: at saturation (${config.saturationMs / 1000} s after ${config.warmupMs / 1000} s warm-up). ` +
      (interleaved
        ? `p50/p99: publish-to-receive at a steady ${int(steadyRate)} deliveries/s, measured with every system up at once (each with its ${int(config.connections)} connections, from ${config.workers} load workers of its own; every Redis-backed one on a redis-server of its own) in ${rounds} rounds: in each, every system in turn gets ${config.latencyWarmupMs} ms at that rate unmeasured, then a ${config.latencyWindowMs / 1000} s window, while the others idle (each warmed up ${config.warmupMs / 1000} s before the first round). p50 and p99 are the medians over a system's windows, each window's p99 in brackets; "pooled" below is the p99 over every delivery of all its windows, which one window with a long stall moves many-fold (the stalls table says where a stall was). The other systems' idle connections (heartbeats, keep-alives, processes) load the machine meanwhile, the same for every system: absolute figures there are higher than with one system up. "alone": the same rate for ${config.aloneSteadyMs / 1000} s with only that system up (one round each, one system after the other). `
        : `p50/p99: publish-to-receive at a steady ${int(steadyRate)} deliveries/s for ${config.steadyMs / 1000} s, after ${config.warmupMs / 1000} s at that rate unmeasured. `) +
      '(⚠: the system saturates below 1.5x the steady rate, so its latency includes queueing.) ' +
      (memory
        ? 'idle RSS/heap per connection: the growth from N/2 to N idle connections, over N/2 (after a full GC). '
        : '') +
      `server CPU ms/event, steady: the server process's CPU over the measured latency ${interleaved ? 'windows' : 'phase'} (and the ${TAIL_MS} ms after each) per event published in ${interleaved ? 'them' : 'it'}: the server's own work, which the machine's other load moves far less than the tails (heartbeats included, and the floor sends none; the memory broker's includes publishing, which the others do in the bench process). ` +
      'CPU in % of one core over the saturation window (bench = the publisher and its bookkeeping; others = every other process on the machine, from /proc/stat: when it is high, the run was disturbed); lost = connections that failed or were ended by the server, plus events not received by all within 5 s (at saturation, or after a latency window: the latencies miss those deliveries).',
  );
  return lines;
}

function ratios(rows: Map<string, LoadResult>, system: string, memory: boolean): string[] {
  const me = rows.get(system);
  const floor = rows.get(FLOOR);
  const bsse = rows.get(BETTER_SSE);
  if (!me) return [];
  const mine = steadyOf(me);
  const floorSteady = floor && steadyOf(floor);
  const bsseSteady = bsse && steadyOf(bsse);
  const dFloor = ratio(me.saturation.deliveredPerSec, floor?.saturation.deliveredPerSec);
  const dBsse = ratio(me.saturation.deliveredPerSec, bsse?.saturation.deliveredPerSec);
  const p99 = ratio(mine.p99Ms, floorSteady?.p99Ms);
  const cpu = ratio(serverMsPerEvent(mine), floorSteady && serverMsPerEvent(floorSteady));
  const out = [
    `- ${system} delivered/s = **${x(dFloor)} floor** (target >= 0.9x: ${verdict(dFloor, (r) => r >= 0.9)}), ` +
      `**${x(dBsse)} better-sse** (target >= 1.5x: ${verdict(dBsse, (r) => r >= 1.5)})`,
    `- ${system} p99 = **${x(p99)} floor** (target <= 1.25x: ${verdict(p99, (r) => r <= 1.25)}); ` +
      `p50 = ${x(ratio(mine.p50Ms, floorSteady?.p50Ms))} floor; p99 = ${x(ratio(mine.p99Ms, bsseSteady?.p99Ms))} better-sse` +
      (me.windows
        ? `; pooled p99 = ${x(ratio(pooledP99Ms(me.windows), floor?.windows && pooledP99Ms(floor.windows)))} floor` +
          `; alone: p99 = ${x(ratio(me.alone.p99Ms, floor?.alone.p99Ms))} floor, p50 = ${x(ratio(me.alone.p50Ms, floor?.alone.p50Ms))} floor`
        : '') +
      `; server CPU per event at the steady rate = ${x(cpu)} floor`,
  ];
  if (memory) {
    const mem = ratio(me.rssPerConn, floor?.rssPerConn);
    out.push(
      `- ${system} idle RSS/conn = **${x(mem)} floor** (target <= 1.25x: ${verdict(mem, (r) => r <= 1.25)}), ` +
        `${x(ratio(me.rssPerConn, bsse?.rssPerConn))} better-sse; heap/conn = ${x(ratio(me.heapPerConn, floor?.heapPerConn))} floor`,
    );
  }
  return out;
}

/**
 * The all-cores scenario: eventrail/redis on every core against the floor run the same way
 * (target p99 <= 1.1x) and the Go original (target p99 <= 1x), in one run.
 */
function coresSection(rows: Map<string, LoadResult> | undefined, config: Config): string[] {
  if (rows === undefined || rows.size === 0) return [];
  const me = rows.get(CORES_EVENTRAIL.name);
  const floor = rows.get(CORES_FLOOR.name);
  const go = rows.get(GO_ORIGINAL.name);
  const p99 = (r: LoadResult | undefined): number | null => (r ? steadyOf(r).p99Ms : null);
  const p50 = (r: LoadResult | undefined): number | null => (r ? steadyOf(r).p50Ms : null);
  const vsFloor = ratio(p99(me), p99(floor));
  const vsGo = ratio(p99(me), p99(go));
  return [
    `## All cores: ${int(config.connections)} connections in one scope, one worker per core`,
    '',
    'eventrail/redis and the floor each forked onto every core with node:cluster (bench/systems/cluster.ts, the port shared round-robin; each worker its own Redis subscriber), the Go original as it runs (every core by itself). Memory and CPU are summed over the workers.',
    '',
    ...loadTable(rows, config, true, config.steadyDeliveriesPerSec),
    '',
    `- eventrail/redis, all cores: p99 = **${x(vsFloor)} the floor on all cores** (target <= 1.1x: ${verdict(vsFloor, (r) => r <= 1.1)}), ` +
      `**${x(vsGo)} the Go original** (target <= 1x: ${verdict(vsGo, (r) => r <= 1)}); p50 = ${x(ratio(p50(me), p50(floor)))} floor, ${x(ratio(p50(me), p50(go)))} Go; ` +
      `delivered/s = ${x(ratio(me?.saturation.deliveredPerSec, floor?.saturation.deliveredPerSec))} floor, ${x(ratio(me?.saturation.deliveredPerSec, go?.saturation.deliveredPerSec))} Go`,
    '',
  ];
}

/**
 * The box scenario: eventrail/redis against the floor, both on `serverWorkers` processes, at the
 * box's size, in rounds taken in turn (targets: memory <= 10 KB per connection in every round,
 * the median round's p99 <= 1.25x the floor's median round's).
 */
function boxSection(rows: Map<string, LoadResult[]> | undefined, config: Config): string[] {
  if (rows === undefined || rows.size === 0) return [];
  const { box } = config;
  const [meSpec, floorSpec] = boxSystems(config);
  const loadsOf = (name: string | undefined): LoadResult[] => rows.get(name ?? '') ?? [];
  /** A system's rounds as one: the median round's p50 and p99 (see medianRound). */
  const median = (name: string | undefined): SteadyResult | undefined => {
    const loads = loadsOf(name);
    return loads.length === 0 ? undefined : medianRound(loads.map((r) => r.alone));
  };
  const me = median(meSpec?.name);
  const floor = median(floorSpec?.name);
  const vsFloor = ratio(me?.p99Ms, floor?.p99Ms);
  // Memory does not move with the machine's stalls: the largest round is the figure.
  const perConns = loadsOf(meSpec?.name).map((r) => r.rssPerConn);
  const perConn =
    perConns.length === 0 || perConns.includes(null) ? null : Math.max(...(perConns as number[]));
  /** The servers' CPU over the steady window, in cores (1.00 = one core busy). */
  const cores = (l: SteadyResult): string =>
    (l.serverCpuUs / 1000 / (box.steadyMs + TAIL_MS)).toFixed(2);
  const table = [
    '| system | round | connected | failed | idle RSS/conn | p50 ms | p99 ms | undelivered | server CPU (cores) | delivered/s at saturation |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...[...rows].flatMap(([name, loads]) =>
      loads.map((r, i) => {
        const l = r.alone;
        return `| ${name} | ${i + 1} | ${int(r.connected)} | ${int(r.failed)} | ${kb(r.rssPerConn)} | ${ms(l.p50Ms)} | ${ms(l.p99Ms)} | ${int(l.undelivered)} | ${cores(l)} | ${int(r.saturation.deliveredPerSec)} |`;
      }),
    ),
  ];
  return [
    `## A box: ${int(box.connections)} streams over ${int(box.scopes)} scopes, ${box.serverWorkers} server processes`,
    '',
    `${box.eventsPerSec} events/s round-robin over the scopes for ${box.steadyMs / 1000} s (every stream's heartbeat falls in it); each system forked into ${box.serverWorkers} processes sharing the port (bench/systems/cluster.ts), ${box.loadWorkers} load workers. Memory and CPU summed over the processes; memory per connection is the slope over the second half of the connections. The systems take turns in ${box.rounds} round(s), each round in the other order than the one before (a stall of the machine lands on one round of one system); p50 and p99 below compare the median rounds.`,
    '',
    ...table,
    '',
    `- eventrail/redis, box: idle RSS **${kb(perConn)} per connection** in its largest round (target <= 10 KB: ${verdict(perConn === null ? null : perConn / 1024, (r) => r <= 10)}), p99 = **${x(vsFloor)} the floor's** (target <= 1.25x: ${verdict(vsFloor, (r) => r <= 1.25)}); p50 = ${x(ratio(me?.p50Ms, floor?.p50Ms))} floor`,
    '',
  ];
}

/** eventrail/redis against the Go original of the same run (fan-out), when it ran. */
function goRatios(rows: Map<string, LoadResult>): string[] {
  const me = rows.get('eventrail/redis');
  const go = rows.get(GO_ORIGINAL.name);
  if (!me || !go) return [];
  const mine = steadyOf(me);
  const theirs = steadyOf(go);
  return [
    `- eventrail/redis against the Go original: delivered/s = **${x(ratio(me.saturation.deliveredPerSec, go.saturation.deliveredPerSec))}**, ` +
      `p99 = **${x(ratio(mine.p99Ms, theirs.p99Ms))}**, p50 = ${x(ratio(mine.p50Ms, theirs.p50Ms))}, ` +
      `idle RSS/conn = ${x(ratio(me.rssPerConn, go.rssPerConn))}`,
  ];
}

/**
 * The longest stalls in each system's latency windows: the event-loop delays of its server, its
 * load workers, the bench (its publisher) and the idle probe (the machine), and the longest event
 * its Redis recorded: where a slow window's time went. Empty without interleaved windows; `note`
 * adds what the columns measure (the first such table of the report).
 */
function stallsTable(rows: Map<string, LoadResult>, note: boolean): string[] {
  const systems = [...rows].filter(([, r]) => r.windows !== undefined);
  if (systems.length === 0) return [];
  const lines = [
    '| system | longest stall per window, server (ms) | load workers (ms) | bench (publisher) (ms) | its Redis (ms) | machine: the idle probe (ms) |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, r] of systems) {
    const windows = r.windows ?? [];
    const each = (key: keyof SteadyResult['stalls']): string =>
      windows.map((w) => w.stalls[key].toFixed(0)).join(' / ');
    const cells = ['serverMs', 'workersMs', 'benchMs', 'redisMs', 'machineMs'] as const;
    lines.push(`| ${name} | ${cells.map(each).join(' | ')} |`);
  }
  if (!note) return [...lines, ''];
  lines.push(
    '',
    `Stalls: the longest delay of a ${LOOP_RESOLUTION_MS} ms timer in each process over each window and the ${TAIL_MS} ms after it (node's monitorEventLoopDelay), in window order. The server's includes its garbage collections and any event it took long over; the bench publishes to every Redis-backed system; the probe does nothing else, so a delay there is the machine's (other processes, the hypervisor). Redis: the longest event its latency monitor recorded (threshold ${REDIS_LATENCY_THRESHOLD_MS} ms; 0 = none; the memory broker's is the bench's shared Redis, not in its path); a process the machine did not run for a while records nothing there.`,
    '',
  );
  return lines;
}

function redisTable(results: Results): string[] {
  const lines = [
    '| system | Redis commands per published event | connections per instance | subscriber connections | PUBSUB NUMPAT, 1 scope | NUMPAT, N/10 scopes |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, r] of results.fanout) {
    if (r.clients === null || r.commandsPerEvent === null) continue;
    const cmds = Object.entries(r.commandsPerEvent)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ');
    const scoped = results.scopes.get(name)?.clients?.numpat;
    lines.push(
      `| ${name} | ${cmds || 'none'} | ${r.clients.total} | ${r.clients.subscribers} | ${r.clients.numpat} | ${scoped ?? 'n/a'} |`,
    );
  }
  return lines;
}

function churnTable(results: Results, config: Config): string[] {
  const lines = [
    `Connect and disconnect ${config.churnPerSec}/s for ${config.churnMs / 1000} s over 100 scopes (each held ${config.churnHoldMs} ms), then idle for 1.5 s (7 s when not back to baseline by then, so that 5 s timeouts can fire); after GC.`,
    '',
    '| system | opened | failed | heap before -> after | sockets before -> after | NUMPAT before -> after | back to baseline (after) |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const [name, r] of results.churn) {
    lines.push(
      `| ${name} | ${int(r.opened)} | ${r.failed} | ${kb(r.before.heapUsed)} -> ${kb(r.after.heapUsed)} | ` +
        `${r.before.sockets} -> ${r.after.sockets} | ${r.numpatBefore} -> ${r.numpatAfter} | ${r.baseline ? 'yes' : '**no**'} (${r.waitedMs / 1000} s) |`,
    );
  }
  return lines;
}

export function writeReport(results: Results, config: Config, elapsedMs: number): BenchRecord[] {
  const n = config.connections;
  const sse = new Map([...results.fanout].filter(([name]) => name !== SOCKET_IO.name));
  const sio = results.fanout.get(SOCKET_IO.name);
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const fanoutStalls = stallsTable(sse, true);
  const md = [
    '# eventrail benchmark',
    '',
    `- Machine: ${machine()}`,
    `- Date: ${date}; the run took ${(elapsedMs / 1000).toFixed(0)} s`,
    `- Command: \`${config.command}\``,
    `- Load: ${n} connections from ${config.workers} load worker processes (raw TCP sockets, minimal SSE parsing), loopback; one redis-server started by the bench; events published through one node-redis client (eventrail/redis through eventrail's publisher on it, the others with PUBLISH; the memory broker in-process, sent over IPC a tick at a time); every system on a fresh server per scenario, alternating.`,
    '',
    'Absolute numbers drift on a shared 2-core machine (client, server and Redis share the cores); the ratios of one run are what to compare.',
    '',
    '![delivered events/s, latency and memory per system](bench.svg)',
    '',
    `## Fan-out: ${int(n)} connections in one scope`,
    '',
    ...loadTable(sse, config, true, config.steadyDeliveriesPerSec),
    '',
    ...ratios(sse, 'eventrail/redis', true),
    ...ratios(sse, EVENTRAIL_NO_HISTORY.name, true),
    ...ratios(sse, 'eventrail/memory', true),
    ...goRatios(sse),
    '',
    ...fanoutStalls,
    `## ${int(n)} connections over ${int(n / 10)} scopes`,
    '',
    ...loadTable(results.scopes, config, false, config.steadyScopesDeliveriesPerSec),
    '',
    ...ratios(results.scopes, 'eventrail/redis', false),
    ...ratios(results.scopes, EVENTRAIL_NO_HISTORY.name, false),
    ...ratios(results.scopes, 'eventrail/memory', false),
    '',
    ...stallsTable(results.scopes, fanoutStalls.length === 0),
    '## Redis cost',
    '',
    ...redisTable(results),
    '',
    '## Churn',
    '',
    ...churnTable(results, config),
    '',
    '## Socket.IO (its own client: socket.io-client over WebSocket, same workers and phases)',
    '',
    ...(sio
      ? loadTable(new Map([[SOCKET_IO.name, sio]]), config, true, config.steadyDeliveriesPerSec)
      : ['not measured']),
    '',
    ...coresSection(results.cores, config),
    ...boxSection(results.box, config),
    ...scalingSection(results.scaling, config.quick),
    ...catchUpSection(results.catchUp, config.quick),
    ...stormSection(results.storm),
    ...presenceSection(results.presence),
  ].join('\n');
  writeFileSync(out(config, 'bench.md'), md);

  const names = [...sse.keys()];
  const bars = (value: (r: LoadResult) => number | null, rows: Map<string, LoadResult>) =>
    names.map((label) => {
      const r = rows.get(label);
      return { label, value: r ? value(r) : null, highlight: label.startsWith('eventrail') };
    });
  const svg = barChart(`eventrail benchmark: ${int(n)} SSE connections`, `${machine()} — ${date}`, [
    {
      title: 'Delivered events/s, one scope (higher is better)',
      format: int,
      bars: bars((r) => r.saturation.deliveredPerSec, sse),
    },
    {
      title: `Delivered events/s, ${int(n / 10)} scopes`,
      format: int,
      bars: bars((r) => r.saturation.deliveredPerSec, results.scopes),
    },
    {
      title: 'p99 publish-to-receive ms at the steady rate (lower is better)',
      format: (v) => v.toFixed(2),
      bars: bars((r) => steadyOf(r).p99Ms, sse),
    },
    {
      title: 'Idle RSS per connection (lower is better)',
      format: kb,
      bars: bars((r) => r.rssPerConn, sse),
    },
  ]);
  writeFileSync(out(config, 'bench.svg'), svg);
  console.log(`\n${md}\nbench: wrote ${out(config, 'bench.md')} and bench.svg`);
  return toRecords(results);
}
