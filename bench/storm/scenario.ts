/**
 * The storm scenario (issue 29): two eventrail instances (Redis broker, history on) behind a
 * balancer (the clients' own round robin over both ports, loopback), `perInstance` streams each
 * over `scopes` scopes, events flowing. Then one instance goes, in two rounds on fresh instances:
 * - kill: SIGKILL; its streams hold (as browsers waiting out their retry) while BEHIND events are
 *   published to every scope, then all come back at once with their Last-Event-ID;
 * - drain: SIGTERM; the instance closes its streams over `drainWindowMs` and each browser comes
 *   back after its own jittered `retry:`;
 * - kill again, the instances with `maxOpeningsPerSecond` SPREAD_OPENINGS: the survivor opens the
 *   storm at that rate and gives the rest their own later slots.
 * Measured: the time until every moved stream is live on the survivor (it got an event published
 * after it reconnected, so its replay is done), events lost or doubled on any stream (each checks
 * its scope's sequence), the p99 of the survivor's own streams during the storm against the same
 * streams just before it, and Redis commands per reconnect (INFO commandstats, the bench's own
 * redis-server, the publisher's commands left out).
 */
import { fileURLToPath } from 'node:url';
import { createPublisher, type Publisher } from 'eventrail';
import { createRedisBroker } from 'eventrail/redis';
import { Hist } from '../hist.js';
import { listenOverflows } from '../listen-drops.js';
import { launch, nodeArgs, type Peer, peer } from '../procs.js';
import {
  channelOf,
  EVENT_TYPE,
  nowUs,
  payloadOf,
  type ServerReply,
  type ServerRequest,
  type Tick,
} from '../protocol.js';
import { type BenchRedis, commandCalls, commandDelta } from '../redis.js';
import type { StormReply, StormReport, StormRequest } from './protocol.js';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How far behind the killed instance's streams are when they come back. */
export const BEHIND = 500;
/** Streams per client process at most (the per-process file limit is 20,000). */
const PER_CLIENT_PROCESS = 4500;
/** The steady publishing: events a second over all scopes. */
const RATE = 50;

export interface StormSizes {
  readonly perInstance: number;
  readonly scopes: number;
  /** How long to wait at most for every stream to be live again. */
  readonly deadlineMs: number;
}

/** The survivor's `maxOpeningsPerSecond` in the third round (0 in the others). */
export const SPREAD_OPENINGS = 1000;

/** Who serves a round: eventrail, or the floor (bench/storm/floor-server.ts) on the same clients. */
export type StormSystem = 'eventrail' | 'floor';

export interface StormRound {
  readonly system: StormSystem;
  readonly kind: 'kill' | 'drain';
  /** The instances' `maxOpeningsPerSecond` (0: off). */
  readonly openingsPerSecond: number;
  readonly streams: number;
  readonly moved: number;
  readonly live: number;
  /** From the kill (or SIGTERM) to the last moved stream live, ms; null when some never were. */
  readonly allLiveMs: number | null;
  /** From the release to the last moved stream live (kill round), ms. */
  readonly fromReleaseMs: number | null;
  /** From the kill (or SIGTERM) to the last moved stream's reconnection answered, ms. */
  readonly lastOpenedMs: number | null;
  /**
   * Connections the kernel dropped from full accept queues during the round (bench/listen-drops.ts),
   * each a client waiting out a TCP retransmission (1 s, then 3 s, 7 s...); null off Linux.
   */
  readonly listenOverflows: number | null;
  /**
   * CPU time from the kill (or SIGTERM) until every moved stream was live, ms: the survivor's, and
   * all client processes' together (on this machine they share its cores with the servers).
   */
  readonly survivorCpuMs: number;
  readonly clientsCpuMs: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly resyncs: number;
  readonly failedAttempts: number;
  /** The survivor's own streams: p99 before (baseline) and during the storm, ms. */
  readonly p50BeforeMs: number | null;
  readonly p99BeforeMs: number | null;
  readonly p50DuringMs: number | null;
  readonly p99DuringMs: number | null;
  /** Redis commands the reconnects ran (publishing left out), per reconnect, by command. */
  readonly commandsPerReconnect: number;
  readonly commands: Record<string, number>;
  readonly load: number[];
}

/** Rounds started in this process: each round's source addresses are its own. */
let rounds = 0;

/** STORM_PROFILE=DIR: every instance and client process writes a CPU profile there when its round ends (SIGUSR2). */
function profileArgs(): string[] {
  const dir = process.env.STORM_PROFILE;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** Asks a process to exit (writing its CPU profile) and waits for it, 10 s at most. */
async function profiled(target: Client | Instance['server']): Promise<void> {
  target.child.kill('SIGUSR2');
  await Promise.race([target.exited, sleep(10_000)]);
}

type Instance = { server: Peer<ServerRequest, ServerReply>; port: number };
type Client = Peer<StormRequest, StormReply>;

async function startInstance(
  system: StormSystem,
  redis: BenchRedis,
  openings: number,
): Promise<Instance> {
  const file = system === 'floor' ? 'floor-server.ts' : 'server.ts';
  const extra = profileArgs();
  const server = peer<ServerRequest, ServerReply>(
    launch(process.execPath, nodeArgs(here(file), extra), `storm ${system} instance`, true, {
      REDIS_URL: redis.url,
      OPENINGS: String(openings),
    }),
    'storm instance',
  );
  const { port } = await server.ask(null, 'listening', 30_000);
  return { server, port };
}

/** How a round's events are published: eventrail's publisher, or the floor's bare `PUBLISH`. */
type Send = (scope: number, tick: Tick) => Promise<unknown>;

function sender(system: StormSystem, publisher: Publisher, redis: BenchRedis): Send {
  if (system === 'floor') {
    return (scope, tick) => redis.admin.command('PUBLISH', channelOf(scope), payloadOf(tick));
  }
  return (scope, tick) =>
    publisher.publishEvent(channelOf(scope), { eventType: EVENT_TYPE, data: tick });
}

/** Publishes seq after seq to every scope, `rate` events a second over all, until stopped. */
function pacer(send: Send, scopes: number, seqs: number[]) {
  let stopped = false;
  let errors = 0;
  const publishOne = (scope: number): Promise<unknown> => {
    const s = seqs[scope] as number;
    seqs[scope] = s + 1;
    return send(scope, { s, t: nowUs() }).catch(() => errors++);
  };
  const run = (async () => {
    let scope = 0;
    while (!stopped) {
      // In order per scope: each publish waits for the previous (the oracle checks the order).
      await publishOne((scope % scopes) + 1);
      scope++;
      await sleep(1000 / RATE);
    }
  })();
  return {
    /** BEHIND events to every scope, as fast as they go (in order per scope). */
    async burst(): Promise<void> {
      for (let i = 0; i < BEHIND; i++) {
        const all: Promise<unknown>[] = [];
        for (let scope = 1; scope <= scopes; scope++) all.push(publishOne(scope));
        await Promise.all(all);
      }
    },
    async stop(): Promise<number> {
      stopped = true;
      await run;
      return errors;
    },
  };
}

async function reports(clients: Client[]): Promise<StormReport[]> {
  return Promise.all(clients.map((c) => c.ask({ type: 'report' }, 'report', 60_000)));
}

const sum = (all: StormReport[], key: keyof StormReport): number =>
  all.reduce((n, r) => n + (r[key] as number), 0);

function histOf(all: StormReport[]): Hist {
  const hist = new Hist();
  for (const r of all) hist.merge(r.hist);
  return hist;
}

/** Every moved stream live (or the deadline): the reports then. */
async function untilLive(clients: Client[], deadlineMs: number): Promise<StormReport[]> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const all = await reports(clients);
    const moved = sum(all, 'moved');
    if ((moved > 0 && sum(all, 'live') === moved) || Date.now() > until) return all;
    await sleep(250);
  }
}

/** Publishing commands: what the pacer itself runs, left out of the reconnects' count. */
const PUBLISHING = /^(evalsha|eval|fcall|xadd|xtrim|pexpire|publish|spublish|script\|)/;

export async function stormRound(
  system: StormSystem,
  kind: 'kill' | 'drain',
  openingsPerSecond: number,
  sizes: StormSizes,
  redis: BenchRedis,
): Promise<StormRound> {
  await redis.admin.command('FLUSHALL', 'SYNC');
  // Each round's clients connect from loopback addresses of their own: a round's closed sockets
  // hold their source ports in TIME_WAIT for a minute, and on the same addresses the next round's
  // connects spent seconds of CPU each in the kernel finding free ports (26 s of a client
  // process's 32 s busy in one profile): the round after another was the slower, whatever it ran.
  const round = ++rounds;
  const broker = createRedisBroker({ url: redis.url });
  const publisher = createPublisher({ broker });
  const instances = [
    await startInstance(system, redis, openingsPerSecond),
    await startInstance(system, redis, openingsPerSecond),
  ];
  const [victim, survivor] = instances as [Instance, Instance];
  const total = sizes.perInstance * 2;
  const clients: Client[] = [];
  const seqs = new Array<number>(sizes.scopes + 1).fill(0);
  let pace: ReturnType<typeof pacer> | undefined;
  try {
    // Half the processes hold the victim's streams, half the survivor's, the same scopes each.
    const perHalf = Math.ceil(sizes.perInstance / PER_CLIENT_PROCESS);
    for (let i = 0; i < perHalf * 2; i++) {
      const label = `storm clients ${i}`;
      const client = peer<StormRequest, StormReply>(
        launch(process.execPath, nodeArgs(here('clients.ts'), profileArgs()), label, true, {
          BENCH_SOURCE_ADDRESS: `127.0.${round}.${i + 2}`,
        }),
        label,
      );
      await client.ask(null, 'ready', 30_000);
      clients.push(client);
    }
    const ports = instances.map((x) => x.port);
    const opened = await Promise.all(
      clients.map((c, i) => {
        const offset = (i % perHalf) * PER_CLIENT_PROCESS;
        const count = Math.min(PER_CLIENT_PROCESS, sizes.perInstance - offset);
        const home = i < perHalf ? 0 : 1;
        return c.ask(
          { type: 'open', ports, home, count, offset, scopes: sizes.scopes },
          'opened',
          120_000,
        );
      }),
    );
    const open = opened.reduce((n, o) => n + o.open, 0);
    if (open < total) throw new Error(`only ${open} of ${total} streams opened`);
    pace = pacer(sender(system, publisher, redis), sizes.scopes, seqs);
    for (const c of clients) c.send({ type: 'measure', port: survivor.port });
    await sleep(5000);
    const beforeAll = await reports(clients);
    const before = histOf(beforeAll);
    const survivorCpu0 = (await survivor.server.ask({ type: 'stats', gc: false }, 'stats')).cpuUs;
    for (const c of clients) c.send({ type: 'hold', hold: kind === 'kill' });
    for (const c of clients) c.send({ type: 'measure', port: survivor.port });
    const calls0 = await commandCalls(redis.admin);
    const overflows0 = listenOverflows();
    const t0 = nowUs();
    let released = t0;
    if (kind === 'kill') {
      victim.server.child.kill('SIGKILL');
      // The browsers wait out their retry while events go on: BEHIND per scope.
      await pace.burst();
      released = nowUs();
      if (process.env.BENCH_DEBUG)
        console.log(`    burst: ${((released - t0) / 1000).toFixed(0)} ms`);
      for (const c of clients) c.send({ type: 'release' });
      // The survivor's p99 is the reconnect storm's, not the burst's (a queue the bench made).
      for (const c of clients) c.send({ type: 'measure', port: survivor.port });
    } else {
      victim.server.child.kill('SIGTERM');
    }
    const all = await untilLive(clients, sizes.deadlineMs);
    const survivorCpu1 = (await survivor.server.ask({ type: 'stats', gc: false }, 'stats')).cpuUs;
    const calls1 = await commandCalls(redis.admin);
    const overflows1 = listenOverflows();
    await pace.stop();
    pace = undefined;
    await sleep(1000);
    const final = await reports(clients);
    if (process.env.BENCH_DEBUG) {
      console.log(`    lost by process (victim's first): ${final.map((r) => r.lost).join(' ')}`);
    }
    const during = histOf(all);
    const commands: Record<string, number> = {};
    let reads = 0;
    for (const [name, n] of commandDelta(calls0, calls1)) {
      if (PUBLISHING.test(name)) continue;
      commands[name] = n;
      reads += n;
    }
    const moved = sum(all, 'moved');
    const live = sum(all, 'live');
    const lastLive = Math.max(...all.map((r) => r.lastLiveUs));
    const lastOpened = Math.max(...all.map((r) => r.lastOpenedUs));
    const done = moved > 0 && live === moved;
    return {
      system,
      kind,
      openingsPerSecond,
      streams: total,
      moved,
      live,
      allLiveMs: done ? (lastLive - t0) / 1000 : null,
      fromReleaseMs: done && kind === 'kill' ? (lastLive - released) / 1000 : null,
      lastOpenedMs: lastOpened > 0 ? (lastOpened - t0) / 1000 : null,
      survivorCpuMs: (survivorCpu1 - survivorCpu0) / 1000,
      clientsCpuMs: (sum(all, 'cpuUs') - sum(beforeAll, 'cpuUs')) / 1000,
      listenOverflows: overflows0 === null || overflows1 === null ? null : overflows1 - overflows0,
      lost: sum(final, 'lost'),
      duplicates: sum(final, 'duplicates'),
      resyncs: sum(final, 'resyncs'),
      failedAttempts: sum(final, 'failedAttempts'),
      p50BeforeMs: before.quantileMs(0.5),
      p99BeforeMs: before.quantileMs(0.99),
      p50DuringMs: during.quantileMs(0.5),
      p99DuringMs: during.quantileMs(0.99),
      commandsPerReconnect: moved > 0 ? reads / moved : 0,
      commands,
      load: (await import('node:os')).loadavg(),
    };
  } finally {
    await pace?.stop();
    for (const x of [...clients, ...instances.map((i) => i.server)]) {
      if (process.env.STORM_PROFILE) await profiled(x);
      await x.kill();
    }
    await broker.close();
  }
}

export interface StormResult {
  readonly sizes: StormSizes;
  readonly rounds: StormRound[];
}

export async function storm(sizes: StormSizes, redis: BenchRedis): Promise<StormResult> {
  const rounds: StormRound[] = [];
  // The floor's rounds beside eventrail's of the same kind, on the same clients, twice each and
  // alternating: a round's time moves by a third or more from one to the next on this machine.
  const plan = [
    ['floor', 'kill', 0],
    ['eventrail', 'kill', 0],
    ['floor', 'drain', 0],
    ['eventrail', 'drain', 0],
    ['eventrail', 'kill', SPREAD_OPENINGS],
    ['floor', 'kill', 0],
    ['eventrail', 'kill', 0],
    ['floor', 'drain', 0],
    ['eventrail', 'drain', 0],
  ] as const;
  // STORM_ROUNDS=0,1 runs only those rounds (for a look at one).
  const only = process.env.STORM_ROUNDS?.split(',').map(Number);
  for (const [system, kind, openings] of plan.filter(
    (_, i) => only === undefined || only.includes(i),
  )) {
    const round = await stormRound(system, kind, openings, sizes, redis);
    rounds.push(round);
    console.log(`  storm ${system} ${kind}: ${JSON.stringify(round)}`);
  }
  return { sizes, rounds };
}
