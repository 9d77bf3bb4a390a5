/** The scaling scenario's section of bench.md: one table, memory per scope, the targets. */
import { MEMORY_RESOLUTION_BYTES } from '../scenarios.js';
import type { ScalingResult, ScalingSetupResult } from './scenario.js';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number | null): string => (n === null ? 'n/a' : n.toFixed(2));
const us = (n: number | null): string => (n === null ? 'n/a' : n.toFixed(n < 100 ? 1 : 0));
const bytes = (n: number | null): string =>
  n === null
    ? `below resolution (< ${(MEMORY_RESOLUTION_BYTES / 2 ** 20).toFixed(0)} MiB over the step)`
    : `${int(n)} B`;

const times = (r: number): string => `${r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}x`;

/** The targets of issue 19, at the largest step measured. */
const SHARDED_KEEPS = 0.8;
const SHARDED_OVER_PATTERN = 100;

function rateAt(r: ScalingSetupResult | undefined, scopes: number): number | undefined {
  return r?.steps.find((s) => s.scopes === scopes)?.perSec;
}

/** A target's line: PASS or FAIL, or in a quick run (smaller sizes) only the ratio. */
function target(
  what: string,
  value: number | undefined,
  base: number | undefined,
  min: number,
  quick: boolean,
) {
  if (value === undefined || base === undefined || base === 0) {
    return `- NOT MEASURED: ${what} (target >= ${min}x)`;
  }
  const r = value / base;
  const verdict = quick ? 'quick run, no verdict' : r >= min ? 'PASS' : 'FAIL';
  return `- ${verdict}: ${what} = **${r >= 10 ? int(r) : r.toFixed(2)}x** (target >= ${min}x)`;
}

export function scalingSection(result: ScalingResult | undefined, quick: boolean): string[] {
  if (result === undefined) return [];
  const { config, setups } = result;
  const first = config.steps[0] ?? 0;
  const last = config.steps[config.steps.length - 1] ?? 0;
  const lines = [
    `## Scaling: publish cost as the scopes held open grow (${config.steps.map(int).join(' -> ')})`,
    '',
    ...(quick
      ? [
          `**Quick run: at most ${int(last)} scopes, not the targets' 100,000, and short windows: a smoke test.**`,
          '',
        ]
      : []),
    '- Setups, each on Redis processes of its own: pattern channels (`PSUBSCRIBE bench:{n}:*` per scope, the default) and sharded channels (`SSUBSCRIBE` of one shard channel per scope) on one redis-server; sharded channels on a Redis Cluster of 3 masters with a replica each (6 nodes).',
    `- Open scopes: held by ${config.instances} eventrail Redis brokers in one holder process, standing for ${config.instances} server instances (each with its own subscriber connection; on the cluster one per master): one \`broker.subscribe('bench:{n}:*')\` per scope, as a server's hub does for its first client, through the real broker code. No SSE connections: ${int(last)} sockets would measure the load client. Every step of a setup is up at once, each on Redis processes and a holder of its own; "opened in": how long its scopes took to subscribe, from none.`,
    `- Publishing: eventrail's publisher in the bench process, with the history (one script per event stores it in the scope's stream and announces it), round-robin over the same ${int(config.hotScopes)} scopes at every step, so that only the number of open scopes changes.`,
    `- publishes/s: ${config.inFlight} publishes in flight for ${config.windowMs / 1000} s (or ${int(config.maxPublishes)} publishes), all of them over the time to the last acknowledgement${config.rounds > 1 ? `; the best of ${config.rounds} windows (in brackets; the row's other figures are the best window's), taken in rounds: in each, every step of the setup in turn, so that a disturbance of the machine falls on all steps alike` : ''}; ${config.warmupMs / 1000} s unmeasured before. The bench's publisher waits up to 30 s for Redis (not 5 s): with patterns at ${int(last)} scopes one batch in flight takes seconds.`,
    "- Redis CPU µs/publish: `INFO cpu` (user + sys, every node, on the cluster the replicas too) over the window, per publish: the least moved by the machine's other load. script / announce: µs per call of the publish script and of the PUBLISH or SPUBLISH inside it (`INFO commandstats`; the announce is where Redis matches every pattern). CPU %: of one core, over the window.",
    `- p50 / p99: publish-to-receive in the holder (a monotonic clock shared by both processes), paced after the windows at ${config.latencyRate}/s or a quarter of the best rate, whichever is lower, for ${config.latencyMs / 1000} s (up to ${(2 * config.latencyMs) / 1000} s to get 20 events). lost or failed: events acknowledged but not received within 5 s, failed publishes, scopes that failed to open.`,
    '',
    '| setup | scopes open | opened in | publishes/s | x at ' +
      `${int(first)} | Redis CPU µs/publish | script / announce µs per call | CPU % Redis / publisher / holder | p50 / p99 ms (paced rate, events) | lost or failed |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of setups) {
    const base = rateAt(r, first);
    for (const s of r.steps) {
      lines.push(
        `| ${r.setup.name} | ${int(s.scopes)} | ${(s.openMs / 1000).toFixed(1)} s | ${int(s.perSec)}${s.windowsPerSec.length > 1 ? ` (${s.windowsPerSec.map(int).join(' / ')})` : ''} | ` +
          `${base ? times(s.perSec / base) : 'n/a'} | ${us(s.redisCpuUsPerPublish)} | ` +
          `${us(s.scriptUsPerCall)} / ${us(s.announceUsPerCall)} | ${s.cpu.redis} / ${s.cpu.publisher} / ${s.cpu.holder} | ` +
          `${ms(s.latency.p50Ms)} / ${ms(s.latency.p99Ms)} (${int(s.latency.rate)}/s, ${s.latency.samples}) | ${s.lost + s.publishErrors + s.failedToOpen} |`,
      );
    }
    if (r.failure !== undefined) lines.push(`| ${r.setup.name} | failed: ${r.failure} |||||||||`);
  }
  const prev = config.steps[config.steps.length - 2];
  lines.push(
    '',
    `Memory per idle scope subscription (the holders after a full GC, the one with ${int(last)} scopes open against the one with ${prev === undefined ? 'n/a' : int(prev)}, over the difference; the broker's and node-redis's bookkeeping, not a hub's or a connection's):`,
    '',
    ...setups.map(
      (r) =>
        `- ${r.setup.name}: heap ${bytes(r.heapPerScope)}, RSS ${bytes(r.rssPerScope)}` +
        (r.gaps > 0 || r.errors > 0
          ? `; the brokers reported ${r.gaps} possible gaps and ${r.errors} errors`
          : ''),
    ),
    '',
    `Targets, at ${int(last)} scopes${quick ? " (quick run: not the targets' size)" : ''}:`,
    '',
  );
  const pattern = setups.find((r) => r.setup.channels === 'pattern');
  for (const r of setups.filter((s) => s.setup.channels === 'sharded')) {
    lines.push(
      target(
        `${r.setup.name} at ${int(last)} scopes, against its own rate at ${int(first)}`,
        rateAt(r, last),
        rateAt(r, first),
        SHARDED_KEEPS,
        quick,
      ),
      target(
        `${r.setup.name} at ${int(last)} scopes, against ${pattern?.setup.name ?? 'pattern'}`,
        rateAt(r, last),
        rateAt(pattern, last),
        SHARDED_OVER_PATTERN,
        quick,
      ),
    );
  }
  const cpuAt = (r: ScalingSetupResult, scopes: number) =>
    r.steps.find((step) => step.scopes === scopes)?.redisCpuUsPerPublish ?? undefined;
  lines.push(
    '',
    `Redis CPU per publish at ${int(last)} scopes against ${int(first)} (context, not a target): ` +
      setups
        .map((r) => {
          const [a, b] = [cpuAt(r, last), cpuAt(r, first)];
          return `${r.setup.name} ${a !== undefined && b ? times(a / b) : 'n/a'}`;
        })
        .join('; ') +
      '.',
    '',
    `The scenario took ${(result.durationMs / 1000).toFixed(0)} s (${setups.map((r) => `${r.setup.name} ${(r.durationMs / 1000).toFixed(0)} s`).join(', ')}).`,
    '',
  );
  return lines;
}
