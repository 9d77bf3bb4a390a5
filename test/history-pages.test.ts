/**
 * `readSince` in pages, on the memory history and on Redis Streams: at most `limit` entries, read
 * on from the last one, a short page is the end, and the proofs (the entry resumed after still
 * stored, one writer) hold across pages.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBroker } from '../src/brokers/memory.js';
import { createRedisBroker } from '../src/brokers/redis.js';
import { isEventrailError } from '../src/errors.js';
import type { Broker, BrokerHistory, HistoryPosition } from '../src/types.js';
import { HISTORY_PAGE } from '../src/types.js';
import { redisCli, redisSkipReason } from './helpers/redis.js';
import { redisPerFile } from './helpers/redis-brokers.js';

/** The id of a history position (a plain id or an id with its epoch). */
const idOf = (position: string | HistoryPosition): string =>
  typeof position === 'string' ? position : position.id;

const redis = redisPerFile();

async function appended(history: BrokerHistory, scope: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++)
    ids.push(await history.append(scope, `${scope}:a`, `{"event_type":"a.b","data":${i}}`));
  return ids;
}

const flavours: Array<[string, () => Promise<Broker>, string | undefined]> = [
  ['memory', async () => createMemoryBroker(), undefined],
  ['redis', async () => createRedisBroker({ url: (await redis()).url }), redisSkipReason()],
];

for (const [flavour, make, skip] of flavours) {
  describe(`readSince in pages (${flavour})`, { skip }, () => {
    it('returns at most limit entries, reads on from the last, and a short page is the end', async (t) => {
      const broker = await make();
      t.after(() => broker.close());
      const history = broker.history as BrokerHistory;
      const start = idOf(await history.position('gym:1'));
      const ids = await appended(history, 'gym:1', 10);
      const pages: string[][] = [];
      let after = start;
      for (;;) {
        const page = await history.readSince('gym:1', after, 4);
        assert.ok(page, 'readable');
        pages.push(page.map((e) => e.id));
        if (page.length < 4) break;
        after = page[page.length - 1]?.id as string;
      }
      assert.deepEqual(pages, [ids.slice(0, 4), ids.slice(4, 8), ids.slice(8)]);
      assert.deepEqual(
        (await history.readSince('gym:1', start))?.map((e) => e.id),
        ids,
        `without a limit: a page of ${HISTORY_PAGE}`,
      );
      assert.deepEqual(await history.readSince('gym:1', ids[9] as string, 4), [], 'the end');
      assert.equal(await history.readSince('gym:1', '1-1', 4), null, 'an id it never stored');
      await assert.rejects(history.readSince('gym:1', start, 0), (err) =>
        isEventrailError(err, 'invalid-option'),
      );
    });

    it(`without a limit a read holds at most ${HISTORY_PAGE} entries`, async (t) => {
      const broker = await make();
      t.after(() => broker.close());
      const history = broker.history as BrokerHistory;
      const start = idOf(await history.position('gym:2'));
      const ids = await appended(history, 'gym:2', HISTORY_PAGE + 5);
      const page = await history.readSince('gym:2', start);
      assert.deepEqual(
        page?.map((e) => e.id),
        ids.slice(0, HISTORY_PAGE),
      );
    });
  });
}

describe('readSince in pages (redis): the writer check runs across pages', {
  skip: redisSkipReason(),
}, () => {
  it('a page whose entries another Redis process wrote is refused (null), even after the first page', async (t) => {
    const server = await redis();
    const broker = createRedisBroker({ url: server.url });
    t.after(() => broker.close());
    const history = broker.history as BrokerHistory;
    const start = idOf(await history.position('gym:3'));
    const ids = await appended(history, 'gym:3', 4);
    // Another process's entry right after ours, as a promoted replica would write it: alone on
    // the next page, only the previous page's last entry can tell.
    await redisCli(
      server.port,
      'XADD',
      'eventrail:history:{gym:3}',
      '*',
      'c',
      'gym:3:a',
      'p',
      '{}',
      'w',
      'f'.repeat(40),
    );
    const first = await history.readSince('gym:3', start, 4);
    assert.deepEqual(
      first?.map((e) => e.id),
      ids.slice(0, 4),
      'the first page is all ours',
    );
    assert.equal(
      await history.readSince('gym:3', ids[3] as string, 4),
      null,
      'the next page, starting at the last entry of the first, sees the other writer',
    );
  });
});
