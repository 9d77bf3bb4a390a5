/**
 * Reconnect storms: many raw clients resuming from one Last-Event-ID at once, each checked by the
 * delivery oracle as soon as it has what it missed; and Redis's own count of the commands it ran.
 */
import { type Entry, missed } from './gaps.js';
import { type RawEventStream, rawEventStream } from './raw-wire.js';
import { redisCli } from './redis.js';

/** `INFO commandstats`: calls per command (lower case), and `total`. */
export async function commandCalls(port: number): Promise<Map<string, number>> {
  const calls = new Map<string, number>([['total', 0]]);
  for (const line of (await redisCli(port, 'INFO', 'commandstats')).split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match === null) continue;
    const n = Number(match[2]);
    calls.set(match[1] as string, n);
    calls.set('total', (calls.get('total') as number) + n);
  }
  return calls;
}

/** What each command was called between two {@link commandCalls}. */
export function callsBetween(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): Map<string, number> {
  const delta = new Map<string, number>();
  for (const [name, n] of after) delta.set(name, n - (before.get(name) ?? 0));
  return delta;
}

/** How a storm went: clients whose log failed the oracle (with why), and how long it took. */
export interface StormResult {
  readonly failures: string[];
  readonly ms: number;
}

/** Where a client resumes: its Last-Event-ID, and the seq of the first event it missed. */
export interface ResumePoint {
  readonly id: string;
  readonly from: number;
}

/**
 * Opens `clients` streams, client i on `path(i)` resuming from `resume[i % resume.length]` (in
 * batches of `batch` connections, so the listen backlog is not overrun), and waits until each has
 * received the events named `event` with data `{"p":0,"seq":n}` it missed, up to seq `seqs - 1`,
 * or has ended first. Each log is checked at once by the oracle (every event once, in order, or a
 * resync at the gap) and in full (no resync: the history holds everything), then dropped.
 */
export async function storm(options: {
  readonly port: number;
  readonly path: (client: number) => string;
  readonly resume: readonly ResumePoint[];
  readonly clients: number;
  readonly seqs: number;
  readonly event: string;
  readonly batch?: number;
  /** When still waiting after this long, every client not done is checked as it is. @defaultValue 60000 */
  readonly timeoutMs?: number;
  /** Called after each batch has connected (with how many have), e.g. to publish meanwhile. */
  readonly between?: (connected: number) => Promise<unknown>;
}): Promise<StormResult> {
  const { clients, seqs } = options;
  const acked = options.resume.map(({ from }) =>
    Array.from({ length: seqs - from }, (_, n) => ({ p: 0, seq: from + n })),
  );
  const failures: string[] = [];
  const streams: RawEventStream[] = [];
  const started = performance.now();
  const done: Promise<void>[] = [];
  const checks: Array<(why: string) => void> = [];
  for (let i = 0; i < clients; i++) {
    const { id, from } = options.resume[i % options.resume.length] as ResumePoint;
    const expected = seqs - from;
    // Only the seq numbers (a resync is -1): thousands of logs are alive at once.
    const log: number[] = [];
    let finish = (): void => {};
    done.push(
      new Promise<void>((resolve) => {
        finish = resolve;
      }),
    );
    let checked = false;
    const check = (why: string): void => {
      if (checked) return;
      checked = true;
      const entries: Entry[] = log.map((seq) =>
        seq < 0 ? { kind: 'resync' } : { kind: 'event', p: 0, seq },
      );
      const lost = missed(entries, acked[i % acked.length] ?? []);
      const inOrder = log.every((seq, index) => seq === from + index);
      if (lost.length > 0 || !inOrder || log.length !== expected)
        failures.push(`client ${i} (${why}): ${log.length} events, ${lost.length} lost`);
      streams[i]?.close();
      finish();
    };
    checks.push(check);
    const stream = rawEventStream(
      options.port,
      options.path(i),
      { 'Last-Event-ID': id },
      (event) => {
        if (event.event === 'eventrail.resync') log.push(-1);
        else if (event.event === options.event)
          log.push((JSON.parse(event.data) as { seq: number }).seq);
        if (log.length >= expected) check('done');
      },
    );
    streams.push(stream);
    void stream.ended.then(() => check('ended'));
    if ((i + 1) % (options.batch ?? 250) === 0) {
      await stream.connected;
      await options.between?.(i + 1);
    }
  }
  const timer = setTimeout(() => {
    for (const check of checks) check('timed out');
  }, options.timeoutMs ?? 60_000);
  await Promise.all(done);
  clearTimeout(timer);
  return { failures, ms: performance.now() - started };
}
