/**
 * The history's code in Redis, `historyCode: 'function' | 'script'`. A function library is shared
 * by every client of a Redis and runs with the caller's rights: another application allowed
 * `FUNCTION LOAD` can replace eventrail's library with its own code, which eventrail then calls.
 * Scripts are called by the SHA1 of their source and cannot be swapped: in the `script` mode a
 * planted library is never run, and the history works as before (replay after a reconnect).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRedisBroker } from '../src/brokers/redis.js';
import { createPublisher } from '../src/index.js';
import { startRedisApp } from './helpers/apps.js';
import { redisCommand, redisSkipReason } from './helpers/redis.js';
import { redisPerFile } from './helpers/redis-brokers.js';
import { openRaw, type RawStream, waitFor } from './helpers/sse.js';

const events = (s: RawStream) =>
  s.events.filter((e) => e.event !== undefined && !e.event.startsWith('eventrail.'));

/** eventrail's library, as another application would replace it: the same names, its own code. */
function planted(library: string): string {
  const fn = (call: string) =>
    `redis.register_function('${library}_${call}', function(keys, args) redis.call('SET', 'planted', '${call}') return '1-1' end)`;
  return [`#!lua name=${library}`, fn('append'), fn('position')].join('\n');
}

describe('the history code mode', { skip: redisSkipReason() }, () => {
  const redis = redisPerFile();

  it('refuses a mode it does not know', () => {
    for (const historyCode of ['lua', '', 1, null]) {
      assert.throws(
        () =>
          createRedisBroker({
            url: 'redis://127.0.0.1:1',
            historyCode: historyCode as unknown as 'script',
          }),
        { code: 'invalid-option' },
        String(historyCode),
      );
    }
  });

  it("'script' never runs a library another client planted under eventrail's name", async () => {
    const server = await redis();
    await redisCommand(server.port, 'FUNCTION', 'FLUSH');
    // eventrail loads its library once (the default mode): that is the name to plant.
    const first = await startRedisApp({ url: server.url });
    await createPublisher({ broker: first.broker }).publishEvent('gym:9:a', { eventType: 'x.y' });
    await first.stop();
    const library = /eventrail_[0-9a-f]{12}/.exec(
      JSON.stringify(await redisCommand(server.port, 'FUNCTION', 'LIST')),
    )?.[0];
    assert.ok(library, 'the library eventrail loaded');
    await redisCommand(server.port, 'FUNCTION', 'LOAD', 'REPLACE', planted(library));

    // The hole the `script` mode closes: the default mode calls the planted code.
    await redisCommand(server.port, 'DEL', 'planted');
    const exposed = createRedisBroker({ url: server.url });
    await createPublisher({ broker: exposed }).publishEvent('gym:9:a', { eventType: 'x.y' });
    await exposed.close();
    assert.equal(await redisCommand(server.port, 'GET', 'planted'), 'append', "'function' mode");

    await redisCommand(server.port, 'DEL', 'planted', 'eventrail:history:{gym:1}');
    const app = await startRedisApp({ url: server.url, historyCode: 'script' });
    const publisher = createPublisher({ broker: app.broker });
    try {
      const stream = await openRaw(`${app.url}/events?scope=1`);
      await publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: 1 });
      await waitFor(() => events(stream).length === 1, 'event 1, live');
      const id = events(stream)[0]?.id ?? assert.fail('no id');
      stream.abort();
      await publisher.publishEvent('gym:1:a', { eventType: 'x.y', data: 2 });
      const back = await openRaw(`${app.url}/events?scope=1`, {
        headers: { 'Last-Event-ID': id },
      });
      await waitFor(() => events(back).length === 1, 'event 2, replayed');
      assert.deepEqual(
        back.events.map((e) => e.event),
        ['eventrail.connected', 'x.y'],
        'replayed, no resync',
      );
      back.abort();
      assert.equal(await redisCommand(server.port, 'GET', 'planted'), null, 'never ran');
      const stored = (await redisCommand(
        server.port,
        'XRANGE',
        'eventrail:history:{gym:1}',
        '-',
        '+',
      )) as unknown[];
      assert.equal(stored.length, 3, 'the position marker and both events, stored by the scripts');
    } finally {
      await app.stop();
    }
  });
});
