/**
 * The catch-up scenario (issue 25): how fast eventrail replays a history to clients that come back
 * with a Last-Event-ID, against the floor (bare node:http writing the same bytes from memory), in
 * the same run: to one client (again and again) and to a crowd at once. Then a reconnect storm on
 * eventrail alone: thousands of clients hundreds of events behind at once, with what it cost Redis
 * (INFO commandstats) per client.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPublisher } from 'eventrail';
import { createRedisBroker } from 'eventrail/redis';
import type { Config } from '../config.js';
import { launch, nodeArgs, peer } from '../procs.js';
import type { ServerReply, ServerRequest } from '../protocol.js';
import { type BenchRedis, commandCalls, commandDelta } from '../redis.js';
import { type CrowdResult, crowd, readStream } from './clients.js';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

/** Events in the history: the default history size, all of it replayed. */
export const DEPTH = 1000;
/** How far behind the storm's clients are. */
export const STORM_BEHIND = 500;
const PAD = 'x'.repeat(150);

export interface CatchUpSizes {
  /** Sequential replays to one client. */
  readonly repeats: number;
  /** Clients replayed to at once. */
  readonly crowd: number;
  /** Clients of the storm. */
  readonly storm: number;
}

export const catchUpSizes = (config: Config): CatchUpSizes =>
  config.quick
    ? { repeats: 5, crowd: 200, storm: 1000 }
    : { repeats: 20, crowd: 1000, storm: 5000 };

/** One system's replay rates. */
export interface ReplayRates {
  /** Events a second to one client (sequential replays). */
  readonly onePerSec: number;
  /** Events a second to the crowd, all at once. */
  readonly crowdPerSec: number;
  readonly crowd: CrowdResult;
}

export interface CatchUpResult {
  readonly sizes: CatchUpSizes;
  readonly bytesPerReplay: number;
  readonly eventrail: ReplayRates;
  readonly floor: ReplayRates;
  readonly storm: CrowdResult & {
    readonly behind: number;
    readonly xrange: number;
    readonly commands: number;
  };
}

async function startSystem(file: string, env: Record<string, string>) {
  const server = peer<ServerRequest, ServerReply>(
    launch(process.execPath, nodeArgs(here(`../systems/${file}`)), file, true, env),
    file,
  );
  const { port } = await server.ask(null, 'listening', 30_000);
  return { server, port };
}

/** `repeats` replays one after the other, then `clients` at once. */
async function rates(
  port: number,
  lastEventId: string,
  blocks: number,
  sizes: CatchUpSizes,
): Promise<ReplayRates> {
  const started = performance.now();
  for (let i = 0; i < sizes.repeats; i++) {
    const { done } = await readStream(port, `/events?scope=1&one=${i}`, lastEventId, blocks);
    if (!done) throw new Error('a single replay was cut');
  }
  const oneMs = performance.now() - started;
  const result = await crowd(
    port,
    (i) => `/events?scope=1&c=${i}`,
    lastEventId,
    blocks,
    sizes.crowd,
  );
  return {
    onePerSec: (DEPTH * sizes.repeats * 1000) / oneMs,
    crowdPerSec: (DEPTH * result.done * 1000) / result.ms,
    crowd: result,
  };
}

export async function catchUp(config: Config, redis: BenchRedis): Promise<CatchUpResult> {
  const sizes = catchUpSizes(config);
  await redis.admin.command('FLUSHALL', 'SYNC');
  const broker = createRedisBroker({ url: redis.url });
  const publisher = createPublisher({ broker });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'eventrail-catchup-'));
  const eventrail = await startSystem('eventrail.ts', { BROKER: 'redis', REDIS_URL: redis.url });
  let floor: Awaited<ReturnType<typeof startSystem>> | undefined;
  try {
    // Where the clients resume: the position of an empty scope, read by a first stream's hello.
    const hello = await readStream(eventrail.port, '/events?scope=1', '', 2, true);
    const start = /^id: (.+)$/m.exec(hello.body.toString())?.[1];
    if (start === undefined) throw new Error('no id in the hello');
    for (let seq = 0; seq < DEPTH; seq++)
      await publisher.publishEvent('bench:1:tick', {
        eventType: 'tick.x',
        data: { seq, pad: PAD },
      });
    const blocks = DEPTH + 2; // retry:, the hello, the events
    const captured = await readStream(eventrail.port, '/events?scope=1', start, blocks, true);
    if (!captured.done) throw new Error('the first replay was cut');
    const ids = [...captured.body.toString().matchAll(/^id: (.+)$/gm)].map((m) => m[1] as string);
    const file = path.join(dir, 'replay.bin');
    writeFileSync(file, captured.body);
    floor = await startSystem('floor-catchup.ts', { CATCHUP_FILE: file });

    const floorRates = await rates(floor.port, start, blocks, sizes);
    const eventrailRates = await rates(eventrail.port, start, blocks, sizes);

    // The storm: resuming STORM_BEHIND events before the end (ids[0] is the hello's).
    const from = ids[DEPTH - STORM_BEHIND] as string;
    const calls0 = await commandCalls(redis.admin);
    const storm = await crowd(
      eventrail.port,
      (i) => `/events?scope=1&s=${i}`,
      from,
      STORM_BEHIND + 2,
      sizes.storm,
    );
    const used = commandDelta(calls0, await commandCalls(redis.admin));
    let commands = 0;
    for (const n of used.values()) commands += n;
    return {
      sizes,
      bytesPerReplay: captured.body.length,
      eventrail: eventrailRates,
      floor: floorRates,
      storm: { ...storm, behind: STORM_BEHIND, xrange: used.get('xrange') ?? 0, commands },
    };
  } finally {
    await floor?.server.kill();
    await eventrail.server.kill();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
