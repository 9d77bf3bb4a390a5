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
import { launch, nodeArgs, type Peer, peer } from '../procs.js';
import { channelOf, EVENT_TYPE, nowUs, type ServerReply, type ServerRequest } from '../protocol.js';
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

export interface StormRound {
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

type Instance = { server: Peer<ServerRequest, ServerReply>; port: number };
type Client = Peer<StormRequest, StormReply>;

async function startInstance(redis: BenchRedis, openings: number): Promise<Instance> {
  const server = peer<ServerRequest, ServerReply>(
    launch(process.execPath, nodeArgs(here('server.ts')), 'storm instance', true, {
      REDIS_URL: redis.url,
      OPENINGS: String(openings),
    }),
    'storm instance',
  );
  const { port } = await server.ask(null, 'listening', 30_000);
  return { server, port };
}

/** Publishes seq after seq to every scope, `rate` events a second over all, until stopped. */
function pacer(publisher: Publisher, scopes: number, seqs: number[]) {
  let stopped = false;
  let errors = 0;
  const publishOne = (scope: number): Promise<unknown> => {
    const s = seqs[scope] as number;
    seqs[scope] = s + 1;
    return publisher
      .publishEvent(channelOf(scope), { eventType: EVENT_TYPE, data: { s, t: nowUs() } })
      .catch(() => errors++);
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
  kind: 'kill' | 'drain',
  openingsPerSecond: number,
  sizes: StormSizes,
  redis: BenchRedis,
): Promise<StormRound> {
  await redis.admin.command('FLUSHALL', 'SYNC');
  const broker = createRedisBroker({ url: redis.url });
  const publisher = createPublisher({ broker });
  const instances = [
    await startInstance(redis, openingsPerSecond),
    await startInstance(redis, openingsPerSecond),
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
        launch(process.execPath, nodeArgs(here('clients.ts')), label, true),
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
    pace = pacer(publisher, sizes.scopes, seqs);
    for (const c of clients) c.send({ type: 'measure', port: survivor.port });
    await sleep(5000);
    const before = histOf(await reports(clients));
    for (const c of clients) c.send({ type: 'hold', hold: kind === 'kill' });
    for (const c of clients) c.send({ type: 'measure', port: survivor.port });
    const calls0 = await commandCalls(redis.admin);
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
    const calls1 = await commandCalls(redis.admin);
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
    const done = moved > 0 && live === moved;
    return {
      kind,
      openingsPerSecond,
      streams: total,
      moved,
      live,
      allLiveMs: done ? (lastLive - t0) / 1000 : null,
      fromReleaseMs: done && kind === 'kill' ? (lastLive - released) / 1000 : null,
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
    for (const c of clients) await c.kill();
    for (const x of instances) await x.server.kill();
    await broker.close();
  }
}

export interface StormResult {
  readonly sizes: StormSizes;
  readonly rounds: StormRound[];
}

export async function storm(sizes: StormSizes, redis: BenchRedis): Promise<StormResult> {
  const rounds: StormRound[] = [];
  const plan = [
    ['kill', 0],
    ['drain', 0],
    ['kill', SPREAD_OPENINGS],
  ] as const;
  // STORM_ROUNDS=0,2 runs only those rounds (for a look at one).
  const only = process.env.STORM_ROUNDS?.split(',').map(Number);
  for (const [kind, openings] of plan.filter((_, i) => only === undefined || only.includes(i))) {
    const round = await stormRound(kind, openings, sizes, redis);
    rounds.push(round);
    console.log(`  storm ${kind}: ${JSON.stringify(round)}`);
  }
  return { sizes, rounds };
}
