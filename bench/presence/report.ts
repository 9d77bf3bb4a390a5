/** The presence scenario's section of bench.md: Redis commands and bytes per join, refresh, leave. */
import type { PresenceResult, PresenceWindows, RedisCost } from './scenario.js';
import { PRESENCE_INTERVAL_MS } from './scenario.js';

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const per = (n: number, d: number): string => (d > 0 ? (n / d).toFixed(2) : '-');
const names = (c: RedisCost): string =>
  Object.entries(c.commands)
    .sort(([, a], [, b]) => b - a)
    .map(([name, n]) => `${name} ${int(n)}`)
    .join(', ') || 'none';

/** The windows' rows of one system. */
function rows(system: string, w: PresenceWindows): string[] {
  const row = (what: string, c: RedisCost, d: number): string =>
    `| ${system} | ${what} | ${int(c.total)} | ${per(c.total, d)} | ${per(c.bytesIn, d)} / ${per(c.bytesOut, d)} | ${names(c)} |`;
  return [
    row(`${int(w.connections)} joins (per join)`, w.joins, w.connections),
    row(`idle ${w.intervals.toFixed(1)} intervals (per interval)`, w.refresh, w.intervals),
    row(`${int(w.connections)} leaves (per leave)`, w.leaves, w.connections),
  ];
}

export function presenceSection(result: PresenceResult | undefined): string[] {
  if (result === undefined) return [];
  const { presence, baseline } = result;
  return [
    `## Presence: Redis cost at ${int(presence.connections)} connections over ${int(presence.scopes)} scopes`,
    '',
    `- One eventrail instance on a Redis broker with \`presence: { events: true, intervalMs: ${PRESENCE_INTERVAL_MS} }\`, every connection another user (so every connection is a join and a leave), all connecting at once, idle, then all closing; the same without presence first, as the baseline (opening a stream reads its start position and subscribes its scope). Counted on the bench's own redis-server: INFO commandstats and INFO stats' network bytes (into / out of Redis), no MONITOR; a window ends once Redis had no command for 1.5 s.`,
    '',
    '| system | window | commands | per unit | bytes in / out per unit | by command |',
    '| --- | --- | --- | --- | --- | --- |',
    ...(baseline ? rows('without presence', baseline) : []),
    ...rows('with presence', presence),
    '',
  ];
}
