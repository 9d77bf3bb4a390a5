/** The storm scenario's section of bench.md, with its targets (docs/benchmark.md). */
import type { StormResult, StormRound } from './scenario.js';

/** Targets: every moved stream live within this long of the kill (its replay of BEHIND included). */
export const KILL_LIVE_TARGET_MS = 10_000;
/** ...and of the SIGTERM: the drain window (10 s) plus the longest retry (3 s + 5 s jitter) plus 2 s. */
export const DRAIN_LIVE_TARGET_MS = 20_000;
/** The survivor's own streams' p99 during the storm, as a multiple of theirs just before it. */
export const P99_TARGET_RATIO = 5;
/**
 * Redis commands per reconnect: all at once (kill), the replays of a scope share their reads;
 * spread (drain, by design), each reconnect reads its own short gap, at most once.
 */
export const COMMANDS_TARGET = { kill: 0.25, drain: 1 } as const;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number | null): string => (n === null ? '-' : n.toFixed(1));

const roundName = (r: StormRound): string =>
  r.openingsPerSecond > 0 ? `${r.kind}, ${int(r.openingsPerSecond)} openings/s` : r.kind;

function verdicts(r: StormRound): string[] {
  const bound = r.kind === 'kill' ? KILL_LIVE_TARGET_MS : DRAIN_LIVE_TARGET_MS;
  const ratio =
    r.p99DuringMs !== null && r.p99BeforeMs ? r.p99DuringMs / r.p99BeforeMs : Number.NaN;
  const check = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');
  return [
    `- ${roundName(r)}: ${check(r.lost === 0 && r.duplicates === 0 && r.resyncs === 0)} ${r.lost} lost, ${r.duplicates} doubled, ${r.resyncs} resyncs (target 0)`,
    `- ${roundName(r)}: ${check(r.allLiveMs !== null && r.allLiveMs <= bound)} every moved stream live in ${ms(r.allLiveMs)} ms (target <= ${int(bound)} ms)`,
    `- ${roundName(r)}: ${check(ratio <= P99_TARGET_RATIO)} survivor's p99 ${ratio.toFixed(2)}x its own before the storm (target <= ${P99_TARGET_RATIO}x)`,
    `- ${roundName(r)}: ${check(r.commandsPerReconnect <= COMMANDS_TARGET[r.kind])} ${r.commandsPerReconnect.toFixed(4)} Redis commands per reconnect (target <= ${COMMANDS_TARGET[r.kind]})`,
  ];
}

export function stormSection(result: StormResult | undefined): string[] {
  if (result === undefined) return [];
  const { sizes, rounds } = result;
  return [
    `## Storm: 2 instances x ${int(sizes.perInstance)} streams, one killed, one drained, one killed with maxOpeningsPerSecond`,
    '',
    `- ${int(sizes.scopes)} scopes; the clients' own round robin over both ports is the balancer. Kill: SIGKILL, ${500} events to every scope while the browsers wait, then all back at once. Drain: SIGTERM, \`drainWindowMs\` 10 s, each browser back after its \`retry:\`.`,
    '',
    '| round | streams moved | live after (ms) | after release (ms) | lost | doubled | survivor p50 / p99 before (ms) | during (ms) | Redis cmds / reconnect | load |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rounds.map(
      (r) =>
        `| ${roundName(r)} | ${int(r.moved)} of ${int(r.streams)} | ${ms(r.allLiveMs)} | ${ms(r.fromReleaseMs)} | ${r.lost} | ${r.duplicates} | ${ms(r.p50BeforeMs)} / ${ms(r.p99BeforeMs)} | ${ms(r.p50DuringMs)} / ${ms(r.p99DuringMs)} | ${r.commandsPerReconnect.toFixed(4)} | ${r.load.map((l) => l.toFixed(1)).join(' ')} |`,
    ),
    '',
    ...rounds.flatMap(verdicts),
    '',
  ];
}
