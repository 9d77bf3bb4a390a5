/**
 * Browser-like clients for the delivery oracle: each reads one stream of `app.seq` events
 * (`{p, seq}`: publisher and its sequence number), drops it at random and comes back to a random
 * instance with its Last-Event-ID; and the oracle that checks their logs.
 */

import { after } from 'node:test';
import { createParser } from 'eventsource-parser';
import type { Publisher } from '../../src/index.js';
import type { Broker } from '../../src/types.js';
import { queryResolver, queryRouter, type RunningApp, startApp } from './apps.js';
import { type Entry, missed } from './gaps.js';
import { sleep, waitFor } from './sse.js';

export type { Entry };
export { missed };

export interface Client {
  readonly log: Entry[];
  reconnects: number;
  lastId: string | undefined;
  stop(): Promise<void>;
}

// Every client still running when its file ends is stopped, even after a failed assertion skipped
// the test's own cleanup: a client reconnects forever and would keep the test process alive.
// So are numbered publishers (their loop ends with the file too).
const running = new Set<Client>();
let fileEnded = false;
after(async () => {
  fileEnded = true;
  await Promise.all([...running].map((client) => client.stop()));
});

/**
 * A browser-like client of gym `scope`: reads one stream, drops it at random (after `lifetimeMs`)
 * until `stopAt`, comes back with its id to any of `urls` (read at every reconnect: the list may
 * change meanwhile). `stopAt` may be a function, read at every reconnect, for a run whose end is
 * decided by what happened in it rather than by the clock.
 */
export function startClient(
  urls: readonly string[],
  random: () => number,
  stopAt: number | (() => number),
  scope = 1,
  /** How long a stream lives before the client drops it: between these, in ms. */
  lifetimeMs: readonly [number, number] = [200, 1000],
): Client {
  const client: Client = { log: [], reconnects: -1, lastId: undefined, stop: async () => {} };
  let stopped = false;
  let current: AbortController | undefined;
  const loop = (async () => {
    while (!stopped) {
      client.reconnects++;
      const controller = new AbortController();
      current = controller;
      const url = `${urls[Math.floor(random() * urls.length)]}/events?scope=${scope}`;
      const parser = createParser({
        onEvent(event) {
          if (event.id) client.lastId = event.id;
          if (event.event === 'eventrail.resync')
            client.log.push({ kind: 'resync', id: event.id, conn: client.reconnects });
          else if (event.event === 'app.seq') {
            const { p, seq } = JSON.parse(event.data) as { p: number; seq: number };
            client.log.push({ kind: 'event', p, seq, id: event.id, conn: client.reconnects });
          }
        },
      });
      // Drop at a random moment of the open stream, except in the calm tail where everyone
      // catches up. Counted from the answer, not the request: on a busy machine a stream that
      // takes long to open must still live a while once open.
      const lifetime = lifetimeMs[0] + random() * (lifetimeMs[1] - lifetimeMs[0]);
      let timer: NodeJS.Timeout | undefined;
      try {
        const headers: Record<string, string> = client.lastId
          ? { 'Last-Event-ID': client.lastId }
          : {};
        const response = await fetch(url, { headers, signal: controller.signal });
        const calmAt = typeof stopAt === 'function' ? stopAt() : stopAt;
        if (Date.now() + lifetime < calmAt) timer = setTimeout(() => controller.abort(), lifetime);
        const reader = response.body?.getReader();
        const decoder = new TextDecoder();
        while (reader) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(decoder.decode(value, { stream: true }));
        }
      } catch {
        // dropped on purpose, or the instance could not be reached
      } finally {
        clearTimeout(timer);
      }
      if (!stopped) await sleep(20 + random() * 150);
    }
  })();
  client.stop = async () => {
    stopped = true;
    running.delete(client);
    current?.abort();
    await loop;
  };
  running.add(client);
  return client;
}

/**
 * Resolves once every client holds a position (the id of its first `eventrail.connected`): from
 * then on, every event published is owed to it. A client that is still connecting when the first
 * events go out would start after them, and the oracle would count them as lost.
 */
export async function allConnected(clients: readonly Client[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (clients.some((c) => c.lastId === undefined)) {
    if (Date.now() > deadline) throw new Error(`clients not connected within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/**
 * A phase of a run: at least `minMs` (the run's length when the machine is idle), and until
 * `enough()` holds, for at most `timeoutMs` more: on a busy machine a phase lasts until it has
 * done what it is there for (events published, clients reconnected) instead of ending empty.
 */
export async function phase(
  minMs: number,
  enough: () => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  await sleep(minMs);
  await waitFor(enough, what, timeoutMs);
}

/** An acknowledged event of a numbered publisher. */
export interface Ack {
  p: number;
  seq: number;
}

/** What numbered publishers got through: the acknowledged events, and the publishes that failed. */
export interface Published {
  readonly acked: Ack[];
  failed: number;
}

/**
 * Publisher `p` of the oracle: `app.seq` events `{p, seq}` on `channel`, one after the other with
 * `pauseMs` between them, while `running()`; each acknowledged one goes to `into.acked` (then
 * `onAck` runs), each refused one counts in `into.failed`.
 */
export async function publishNumbered(
  publisher: Publisher,
  channel: string,
  p: number,
  running: () => boolean,
  into: Published,
  pauseMs: number,
  onAck?: () => void,
): Promise<void> {
  for (let seq = 0; running() && !fileEnded; seq++) {
    try {
      await publisher.publishEvent(channel, { eventType: 'seq', data: { p, seq } });
      into.acked.push({ p, seq });
      onAck?.();
    } catch {
      into.failed++;
    }
    await sleep(pauseMs);
  }
}

/**
 * The calm tail: resolves once no client misses an acked event without a resync, or after `ms`
 * (recovery can be slow on a loaded machine, but a real loss never converges).
 */
export async function caughtUp(
  clients: readonly Client[],
  acked: readonly Ack[],
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && clients.some((c) => missed(c.log, acked).length > 0))
    await sleep(100);
}

/** Two instances for the oracle's clients, on node:http and on the fetch handler, each on `make()`. */
export async function startSeqApps(make: () => Broker): Promise<RunningApp[]> {
  const apps: RunningApp[] = [];
  for (const framework of ['node:http', 'fetch'] as const) {
    apps.push(
      await startApp(framework, {
        broker: make(),
        resolver: queryResolver,
        router: queryRouter,
        eventNamePrefix: 'app',
        retryMs: 100,
        drainJitterMs: 100,
        heartbeatMs: 1000,
      }),
    );
  }
  return apps;
}

/** What the oracle counts over every client's log. */
export interface Tally {
  resyncs: number;
  /** Acked events a client lacks with no resync covering the gap. */
  lost: number;
  duplicated: number;
  disordered: number;
}

/**
 * Counts, over every client, resyncs, events missed without a resync, duplicates and events out of
 * order (per publisher); logs enough of each failure to diagnose it from a CI log alone.
 */
export function tally(
  clients: readonly Client[],
  acked: ReadonlyArray<{ p: number; seq: number }>,
): Tally {
  let resyncs = 0;
  let lost = 0;
  let duplicated = 0;
  let disordered = 0;
  for (const client of clients) {
    const seen = new Set<string>();
    const lastSeq = new Map<number, number>();
    client.log.forEach((entry, index) => {
      if (entry.kind === 'resync') {
        resyncs++;
        return;
      }
      const key = `${entry.p}:${entry.seq}`;
      if (seen.has(key)) duplicated++;
      seen.add(key);
      if ((lastSeq.get(entry.p) ?? -1) >= entry.seq) {
        disordered++;
        // The neighbourhood, ids included, to diagnose a failure from the CI log alone.
        console.log(
          `# out of order at ${index}: ${JSON.stringify(client.log.slice(Math.max(0, index - 6), index + 2))}`,
        );
      }
      lastSeq.set(entry.p, entry.seq);
    });
    const gaps = missed(client.log, acked);
    lost += gaps.length;
    if (gaps.length > 0) {
      // Enough to diagnose a failure from the CI log alone.
      console.log(
        `# missed without a resync: ${JSON.stringify(gaps.slice(0, 5))} of ${gaps.length}; connection ${client.reconnects}; last entries ${JSON.stringify(client.log.slice(-4))}`,
      );
    }
  }
  return { resyncs, lost, duplicated, disordered };
}
