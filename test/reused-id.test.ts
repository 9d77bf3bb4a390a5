/**
 * A history id issued twice: a promoted replica that lost entry X+1 (which clients received live)
 * and whose clock is behind issues X+1 again for a new event. The id a client holds names the
 * epoch of the history it is from (the writer of the entry), so a resume from X+1 is resynced
 * instead of replayed after the new X+1, and a hub that saw the first X+1 live recovers (and
 * resyncs) instead of dropping the second as a duplicate.
 *
 * Deterministic: the replica's stream is made by hand on a real Redis. Everything up to X is
 * kept (as replicated); X+1 is stored again, under the same id, with a new event and another
 * writer (another `run_id`), and announced as the Lua announces it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChannelMode } from '../src/brokers/redis.js';
import { createPublisher } from '../src/index.js';
import { withHistoryId } from '../src/wire/announce.js';
import { RESYNC_EVENT } from '../src/wire/protocol.js';
import { startRedisApp } from './helpers/apps.js';
import { redisCommand, redisSkipReason } from './helpers/redis.js';
import { rawPublishArgs, redisPerFile } from './helpers/redis-brokers.js';
import { openRaw, type RawStream, waitFor } from './helpers/sse.js';

const KEY = 'eventrail:history:{gym:1}';
/** The promoted replica's run_id: another process than the one that stored X+1 first. */
const REPLICA = 'feedc0de'.repeat(5);

const events = (s: RawStream) =>
  s.events.filter((e) => e.event !== undefined && !e.event.startsWith('eventrail.'));
const resynced = (s: RawStream) => s.events.some((e) => e.event === RESYNC_EVENT);

type Entry = [string, string[]];

/** What the promoted replica's append does: store under `id` (`*`: the next) and announce. */
async function replicaAppend(port: number, mode: ChannelMode, id: string, data: number) {
  const payload = `{"event_type":"x.y","data":${data}}`;
  const stored = String(
    await redisCommand(port, 'XADD', KEY, id, 'c', 'gym:1:a', 'p', payload, 'w', REPLICA),
  );
  const [command, ...args] = rawPublishArgs(
    mode,
    'gym:1:a',
    withHistoryId(payload, stored, REPLICA.slice(0, 8)),
  );
  await redisCommand(port, command as string, ...args);
}

/** Rewrites the stream as the promoted replica holds it: up to X as it was, then a new X+1. */
async function reissue(port: number, mode: ChannelMode): Promise<void> {
  const entries = (await redisCommand(port, 'XRANGE', KEY, '-', '+')) as unknown as Entry[];
  const last = entries.at(-1);
  assert.ok(last, 'the history holds X+1');
  await redisCommand(port, 'DEL', KEY);
  for (const [id, fields] of entries.slice(0, -1))
    await redisCommand(port, 'XADD', KEY, id, ...fields);
  await replicaAppend(port, mode, last[0], 3);
}

describe('a history id reissued by another writer', { skip: redisSkipReason() }, () => {
  const redis = redisPerFile();

  for (const channels of ['pattern', 'sharded'] as const) {
    it(`is not taken for the event the client already has (${channels})`, async () => {
      const server = await redis();
      await redisCommand(server.port, 'DEL', KEY);
      const app = await startRedisApp({ url: server.url, channels });
      const publisher = createPublisher({ broker: app.broker });
      const resuming = await openRaw(`${app.url}/events?scope=1`);
      const live = await openRaw(`${app.url}/events?scope=1&user=2`);
      try {
        for (const n of [1, 2])
          await publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: n });
        await waitFor(
          () => events(resuming).length === 2 && events(live).length === 2,
          'X and X+1 live',
        );
        const held = events(resuming).at(-1)?.id ?? assert.fail('no id');
        resuming.abort();

        await reissue(server.port, channels);
        // The replica writes on: event 4, after the reissued X+1.
        await replicaAppend(server.port, channels, '*', 4);
        // Live: the second X+1 is not a duplicate of the first. The hub recovers, and its
        // history (of another epoch at X+1) cannot be replayed: a resync, before event 4 if 4
        // is not covered by it. Without the epoch: 3 dropped as a duplicate, 4 delivered.
        await waitFor(
          () => resynced(live) || events(live).some((e) => e.data === '4'),
          'the live client to hear of it',
          10_000,
        );
        assert.deepEqual(
          {
            resynced: resynced(live),
            data: events(live)
              .map((e) => e.data)
              .filter((d) => d !== '4'),
          },
          { resynced: true, data: ['1', '2'] },
          'the live client',
        );

        // Resumed from X+1: that entry is now of another epoch, so nothing after it can be proven.
        const back = await openRaw(`${app.url}/events?scope=1`, {
          headers: { 'Last-Event-ID': held },
        });
        await waitFor(() => back.events.length > 0, 'the hello');
        await replicaAppend(server.port, channels, '*', 5);
        await waitFor(() => events(back).some((e) => e.data === '5'), 'event 5, live', 10_000);
        assert.deepEqual(
          { resynced: resynced(back), data: events(back).map((e) => e.data) },
          { resynced: true, data: ['5'] },
          'the resumed client: a resync, not a replay that skips event 3',
        );
        back.abort();
      } finally {
        resuming.abort();
        live.abort();
        await app.stop();
      }
    });
  }
});
