/**
 * One payload format: what the history's Lua publishes live (the announced id and epoch after
 * the event's fields; in the sharded mode the shard head first) is held against the TypeScript
 * definitions of each piece (wire/announce.ts, wire/event-ids.ts, brokers/redis-shard.ts), on a
 * real Redis, in both code modes. A change to one side alone fails here.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createClient } from 'redis';
import { createRedisBroker } from '../src/brokers/redis.js';
import { encodeShardPayload, shardChannel } from '../src/brokers/redis-shard.js';
import { withHistoryId } from '../src/wire/announce.js';
import { writerEpoch } from '../src/wire/event-ids.js';
import { redisSkipReason } from './helpers/redis.js';
import { redisPerFile } from './helpers/redis-brokers.js';
import { waitFor } from './helpers/sse.js';

describe('the payload format', { skip: redisSkipReason() }, () => {
  const redis = redisPerFile();

  for (const historyCode of ['function', 'script'] as const) {
    it(`the Lua publishes what the TypeScript definitions write (${historyCode})`, async () => {
      const server = await redis();
      const listener = createClient({ url: server.url });
      listener.on('error', () => {});
      await listener.connect();
      const received: Array<[string, string]> = [];
      await listener.pSubscribe('gym:1:*', (message, channel) => received.push([channel, message]));
      await listener.sSubscribe(shardChannel('', 'gym:1'), (message, channel) =>
        received.push([channel, message]),
      );
      const broker = createRedisBroker({
        url: server.url,
        historyCode,
        channels: 'pattern',
        announce: ['pattern', 'sharded'],
        probeIntervalMs: 0,
      });
      try {
        const history = broker.history ?? assert.fail('no history');
        const payload = '{"event_type":"students.changed","data":{"a":"é\\n"}}';
        const id = await history.append('gym:1', 'gym:1:students', payload);
        const info = String(await listener.sendCommand(['INFO', 'server']));
        const runId = /run_id:([0-9a-f]+)/.exec(info)?.[1] ?? assert.fail('no run_id');
        const epoch = writerEpoch(runId) ?? assert.fail('no epoch');
        await waitFor(() => received.length === 2, 'both announces');
        const announced = withHistoryId(payload, id, epoch);
        assert.deepEqual(
          new Map(received),
          new Map([
            ['gym:1:students', announced],
            [shardChannel('', 'gym:1'), encodeShardPayload('gym:1:students', announced)],
          ]),
        );
      } finally {
        await broker.close();
        await listener.close();
      }
    });
  }
});
