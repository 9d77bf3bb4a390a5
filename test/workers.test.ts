/**
 * One instance per core (eventrail/cluster) on a real Redis: examples/basic on WORKERS=2, as
 * `WORKERS=2 npm run example:basic` runs it. One scrape of the primary gives the box's sums; a
 * worker killed with SIGKILL is replaced and its browsers resume on the box with nothing lost;
 * SIGTERM to the primary drains every worker and leaves no process behind.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RunningExample, startExample } from './helpers/examples.js';
import { type Entry, missed } from './helpers/gaps.js';
import { redisSkipReason } from './helpers/redis.js';
import { redisPerFile } from './helpers/redis-brokers.js';
import { openRaw, openSource, type RecordingSource, waitFor } from './helpers/sse.js';

const redis = redisPerFile();

/** What the primary's `/healthz` answers (eventrail/cluster's BoxHealth). */
interface Box {
  ok: boolean;
  expected: number;
  connections: number;
  workers: Array<{ id: number; pid: number; ok: boolean; answered: boolean; connections: number }>;
}

/**
 * How long a publish through the box may take: once, a publish sent as its worker died waited
 * 300 s for headers that never came (docs/cluster.md, "Shutdown and failures").
 */
const PUBLISH_MS = 10_000;

/** A worker's start is a tsx compile: on a busy machine, tens of seconds. */
const WORKER_START_MS = 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** One metric's value in a Prometheus text exposition (0 when absent). */
function value(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

describe('every core: examples/basic on WORKERS=2', { skip: redisSkipReason() }, () => {
  let app: RunningExample;
  let boxUrl: string;

  const box = async (): Promise<Box> => (await fetch(`${boxUrl}/healthz`)).json() as Promise<Box>;
  const scrape = async (): Promise<string> => {
    const answer = await fetch(`${boxUrl}/metrics`);
    const text = await answer.text();
    assert.equal(answer.status, 200, `the box's scrape failed: ${text}`);
    return text;
  };
  /** Until both workers run and answer ok: at start, and after a replacement. */
  const allUp = async (what: string): Promise<Box> => {
    let last: Box | undefined;
    try {
      await waitFor(
        async () => {
          last = await box();
          return last.ok && last.workers.length === 2;
        },
        what,
        WORKER_START_MS,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; the box said ${JSON.stringify(last)}`);
    }
    return last as Box;
  };
  const publish = async (scope: number, type: string, data: unknown): Promise<boolean> => {
    const query = `scope=${scope}&type=${type}&data=${encodeURIComponent(JSON.stringify(data))}`;
    try {
      const answer = await fetch(`${app.url}/publish?${query}`, {
        method: 'POST',
        signal: AbortSignal.timeout(PUBLISH_MS),
      });
      return answer.status === 202;
    } catch {
      return false; // its worker died under it (or with it its handed-over connection): not acknowledged
    }
  };

  before(async () => {
    const { url } = await redis();
    app = await startExample('examples/basic/server.ts', {
      WORKERS: '2',
      BOX_PORT: '0',
      REDIS_URL: url,
    });
    await waitFor(() => /http:\/\/127\.0\.0\.1:\d+/.test(app.output()), 'the box line');
    boxUrl = (/http:\/\/127\.0\.0\.1:\d+/.exec(app.output()) as RegExpExecArray)[0];
    await allUp('both workers up');
  });
  after(() => app?.stop());

  it("one scrape of the primary gives the sums of the box's workers", async () => {
    const streams = await Promise.all([1, 2, 3, 4].map(() => openRaw(`${app.url}/events?scope=5`)));
    let health = await box();
    await waitFor(async () => {
      health = await box();
      return health.connections === 4;
    }, 'four streams on the box');
    // The primary hands connections to its workers in turn: both hold streams of scope 5.
    for (const worker of health.workers) assert.ok(worker.connections > 0, JSON.stringify(health));
    const before = await scrape();
    for (let i = 0; i < 3; i++) assert.ok(await publish(5, 'metered', i));
    await waitFor(
      () => streams.every((s) => s.events.filter((e) => e.event === 'app.metered').length === 3),
      'every stream has the three events',
    );
    const metrics = await scrape();
    assert.equal(value(metrics, 'eventrail_connections'), 4);
    assert.equal(value(metrics, 'eventrail_broker_up'), 1);
    // Each worker's hub receives every event once; each stream gets each event once.
    const delta = (name: string): number => value(metrics, name) - value(before, name);
    assert.equal(delta('eventrail_events_in_total'), 3 * health.workers.length);
    assert.equal(delta('eventrail_event_writes_total'), 3 * 4);
    for (const stream of streams) stream.abort();
  });

  it('a worker killed is replaced, and its streams resume on the box with nothing lost', async () => {
    const sources: RecordingSource[] = [];
    for (let i = 0; i < 6; i++) {
      sources.push(openSource(`${app.url}/events?scope=6`, ['app.seq', 'eventrail.resync']));
    }
    await Promise.all(sources.map((s) => s.opened));
    const acked: Array<{ p: number; seq: number }> = [];
    let seq = 0;
    const publishSome = async (count: number): Promise<void> => {
      for (const end = seq + count; seq < end; seq++) {
        if (await publish(6, 'seq', { p: 0, seq })) acked.push({ p: 0, seq });
      }
    };
    const logOf = (source: RecordingSource): Entry[] =>
      source.events.flatMap((e): Entry[] => {
        if (e.name === 'eventrail.resync') return [{ kind: 'resync', id: e.id }];
        if (e.name !== 'app.seq') return [];
        const { p, seq } = JSON.parse(e.data) as { p: number; seq: number };
        return [{ kind: 'event', p, seq, id: e.id }];
      });
    const hasAll = (): boolean => {
      const last = acked.at(-1)?.seq;
      return sources.every((s) => logOf(s).some((e) => e.kind === 'event' && e.seq === last));
    };

    await publishSome(5);
    await waitFor(hasAll, 'the first events on every stream');
    const before = await allUp('both workers up');
    const victim = before.workers.find((w) => w.connections > 0);
    assert.ok(victim, JSON.stringify(before));
    const ids = sources.map((s) => s.connectionId());
    process.kill(victim.pid, 'SIGKILL');
    // Published while its browsers are away: they must get these from the history.
    await publishSome(5);
    await waitFor(() => !alive(victim.pid), 'the killed worker to be gone');
    const after = await allUp('a replacement worker');
    assert.ok(!after.workers.some((w) => w.pid === victim.pid), JSON.stringify(after));
    await publishSome(5);
    await waitFor(hasAll, 'every stream, resumed, has the last event', 30_000);

    assert.ok(acked.length >= 10, `only ${acked.length} events acknowledged`);
    const resumed = sources.filter((s, i) => s.connectionId() !== ids[i]).length;
    assert.ok(resumed > 0, 'no stream was on the killed worker');
    for (const source of sources) {
      assert.deepEqual(missed(logOf(source), acked), [], JSON.stringify(logOf(source)));
      source.close();
    }
  });

  it('SIGTERM to the primary drains every worker and leaves no process behind', async () => {
    const health = await allUp('both workers up');
    const pids = health.workers.map((w) => w.pid);
    const streams = await Promise.all([1, 2, 3, 4].map(() => openRaw(`${app.url}/events?scope=7`)));
    await waitFor(async () => (await box()).connections === 4, 'four streams on the box');
    app.child.kill('SIGTERM');
    assert.equal(await app.exited, 0, app.output());
    // The primary ends once every worker has: none may be left when it is gone.
    assert.deepEqual(pids.filter(alive), [], 'worker processes outlived the primary');
    assert.doesNotMatch(app.output(), /killing it/, 'a worker had to be killed');
    await Promise.all(streams.map((s) => s.ended));
    for (const stream of streams) {
      assert.match(stream.text, /retry: \d+\n\n$/, 'the stream ends with its drain retry');
    }
  });
});
