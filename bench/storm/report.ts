/**
 * The storm scenario's section of bench.md, with its targets (docs/benchmark.md). A kill is judged
 * against the floor's kills of the same run, on the same client processes: on a machine whose
 * cores the servers share with the clients, the time a storm of replays takes is the CPU of both
 * (docs/benchmark.md measured it), and the floor says what the least a server can do takes here.
 */
import type { StormResult, StormRound } from './scenario.js';

/**
 * Kill: every moved stream live (its replay of BEHIND done) within this multiple of the floor's
 * time, the mean of the floor's kills in the same run; and the survivor's own streams' p99 during
 * the storm within this multiple of the floor survivor's.
 */
export const KILL_VS_FLOOR = 1.25;
/**
 * Drain: every moved stream live within the drain window (10 s) plus the longest retry (3 s + 5 s
 * jitter) plus 2 s; or, where the floor's drains of the same run (the same window and retries)
 * take longer than that on this machine, within DRAIN_VS_FLOOR of theirs.
 */
export const DRAIN_LIVE_TARGET_MS = 20_000;
export const DRAIN_VS_FLOOR = 1.1;
/** Drain: the survivor's own streams' p99 during the storm, as a multiple of theirs just before it. */
export const DRAIN_P99_TARGET_RATIO = 5;
/**
 * Redis commands per reconnect: all at once (kill), the replays of a scope share their reads;
 * spread (drain, by design), each reconnect reads its own short gap, at most once.
 */
export const COMMANDS_TARGET = { kill: 0.25, drain: 1 } as const;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (n: number | null): string => (n === null ? '-' : n.toFixed(1));
const s = (n: number): string => (n / 1000).toFixed(1);
const check = (ok: boolean): string => (ok ? 'PASS' : 'FAIL');

/** How long until every moved stream was live, or how many were by the deadline. */
const liveIn = (r: StormRound): string =>
  r.allLiveMs === null
    ? `only ${int(r.live)} of ${int(r.moved)} moved streams live by the deadline`
    : `every moved stream live in ${ms(r.allLiveMs)} ms`;

const roundName = (r: StormRound): string =>
  `${r.system} ${r.kind}${r.openingsPerSecond > 0 ? `, ${int(r.openingsPerSecond)} openings/s` : ''}`;

/** The mean of the floor's rounds of one kind: every moved stream live, and its survivor's p99 during. */
export interface FloorRounds {
  readonly liveMs: number;
  readonly p99Ms: number;
}

export function floorOf(
  rounds: readonly StormRound[],
  kind: StormRound['kind'],
): FloorRounds | undefined {
  const done = rounds.filter(
    (r) =>
      r.system === 'floor' && r.kind === kind && r.allLiveMs !== null && r.p99DuringMs !== null,
  );
  if (done.length === 0) return undefined;
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  return {
    liveMs: mean(done.map((r) => r.allLiveMs as number)),
    p99Ms: mean(done.map((r) => r.p99DuringMs as number)),
  };
}

/** The drain's bound: the design's, or the floor's drains' plus 10% where they take longer here. */
export function drainBoundMs(floor: FloorRounds | undefined): number {
  return Math.max(DRAIN_LIVE_TARGET_MS, (floor?.liveMs ?? 0) * DRAIN_VS_FLOOR);
}

function verdicts(r: StormRound, rounds: readonly StormRound[]): string[] {
  const floor = floorOf(rounds, r.kind);
  const name = roundName(r);
  const lost = `- ${name}: ${check(r.lost === 0 && r.duplicates === 0 && r.resyncs === 0)} ${r.lost} lost, ${r.duplicates} doubled, ${r.resyncs} resyncs (target 0)`;
  // The floor's rounds are the reference; that they lose nothing says the rig is sound.
  if (r.system === 'floor') return [lost];
  const commands = `- ${name}: ${check(r.commandsPerReconnect <= COMMANDS_TARGET[r.kind])} ${r.commandsPerReconnect.toFixed(4)} Redis commands per reconnect (target <= ${COMMANDS_TARGET[r.kind]})`;
  if (r.kind === 'drain') {
    const ratio =
      r.p99DuringMs !== null && r.p99BeforeMs ? r.p99DuringMs / r.p99BeforeMs : Number.NaN;
    const bound = drainBoundMs(floor);
    const floorSays = floor ? `; the floor's drains ${ms(floor.liveMs)} ms` : '';
    return [
      lost,
      `- ${name}: ${check(r.allLiveMs !== null && r.allLiveMs <= bound)} ${liveIn(r)} (target <= ${int(bound)} ms${floorSays})`,
      `- ${name}: ${check(ratio <= DRAIN_P99_TARGET_RATIO)} survivor's p99 ${ratio.toFixed(2)}x its own before the storm (target <= ${DRAIN_P99_TARGET_RATIO}x)`,
      commands,
    ];
  }
  if (floor === undefined) {
    return [lost, `- ${name}: no floor kill in this run to judge the time and p99 by`, commands];
  }
  const live = r.allLiveMs === null ? Number.NaN : r.allLiveMs / floor.liveMs;
  const p99 = r.p99DuringMs === null ? Number.NaN : r.p99DuringMs / floor.p99Ms;
  return [
    lost,
    `- ${name}: ${check(live <= KILL_VS_FLOOR)} ${liveIn(r)}, ${r.allLiveMs === null ? 'against' : `${live.toFixed(2)}x`} the floor's ${ms(floor.liveMs)} ms (target <= ${KILL_VS_FLOOR}x)`,
    `- ${name}: ${check(p99 <= KILL_VS_FLOOR)} survivor's p99 during the storm ${ms(r.p99DuringMs)} ms, ${p99.toFixed(2)}x the floor survivor's ${ms(floor.p99Ms)} ms (target <= ${KILL_VS_FLOOR}x)`,
    commands,
  ];
}

export function stormSection(result: StormResult | undefined): string[] {
  if (result === undefined) return [];
  const { sizes, rounds } = result;
  return [
    `## Storm: 2 instances x ${int(sizes.perInstance)} streams, one killed or drained; eventrail and the floor`,
    '',
    `- ${int(sizes.scopes)} scopes; the clients' own round robin over both ports is the balancer. Kill: SIGKILL, ${500} events to every scope while the browsers wait, then all back at once. Drain: SIGTERM, \`drainWindowMs\` 10 s, each browser back after its \`retry:\`. The floor (bench/storm/floor-server.ts) replays from memory in one write, on the same clients.`,
    '',
    '| round | streams moved | live after (ms) | after release (ms) | lost | doubled | survivor p50 / p99 before (ms) | during (ms) | CPU s: survivor / clients | listen drops | Redis cmds / reconnect | load |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rounds.map(
      (r) =>
        `| ${roundName(r)} | ${int(r.moved)} of ${int(r.streams)} | ${ms(r.allLiveMs)} | ${ms(r.fromReleaseMs)} | ${r.lost} | ${r.duplicates} | ${ms(r.p50BeforeMs)} / ${ms(r.p99BeforeMs)} | ${ms(r.p50DuringMs)} / ${ms(r.p99DuringMs)} | ${s(r.survivorCpuMs)} / ${s(r.clientsCpuMs)} | ${r.listenOverflows ?? '-'} | ${r.commandsPerReconnect.toFixed(4)} | ${r.load.map((l) => l.toFixed(1)).join(' ')} |`,
    ),
    '',
    ...rounds.flatMap((r) => verdicts(r, rounds)),
    '',
  ];
}
