/**
 * The Redis broker on node-redis clients the application created and gives it (`publisher` and
 * `subscriber`), for each node-redis major we claim: the `url` form always loads the `redis` the
 * package resolves, so this is how another major (an npm alias) is tested.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRedisBroker } from '../../src/brokers/redis.js';
import { EventrailError } from '../../src/errors.js';
import type { BrokerMessage } from '../../src/types.js';
import { collector, QUIET_MS, rejectsWithCode, sleep } from './broker-contract.js';
import { type RedisProcess, redisCommand, startRedis } from './redis.js';
import { type CreateClient, connectPair } from './redis-brokers.js';
import { waitFor } from './sse.js';

/** Patterns subscribed in Redis right now. */
export async function numpat(port: number): Promise<number> {
  const reply = await redisCommand(port, 'PUBSUB', 'NUMPAT');
  assert.equal(typeof reply, 'number');
  return Number(reply);
}

/** What the broker does with clients it was given, beyond the contract suite. */
export function givenClientTests(
  label: string,
  createClient: CreateClient,
  getRedis: () => Promise<RedisProcess>,
  skip: string | undefined,
): void {
  describe(`Redis broker on given clients (${label})`, { skip }, () => {
    it('leaves clients it was given open after close() and takes its patterns off them', async () => {
      const redis = await getRedis();
      const errors: unknown[] = [];
      const { publisher, subscriber, close } = await connectPair(createClient, redis.url, (e) =>
        errors.push(e),
      );
      try {
        const broker = createRedisBroker({ publisher, subscriber });
        const got = collector('gym:1:*');
        await broker.subscribe('gym:1:*', got.handler);
        await broker.subscribe('gym:2:*', got.handler);
        await broker.publish('gym:1:students', 'through the broker');
        await got.waitFor(1);
        assert.equal(await numpat(redis.port), 2);

        await broker.close();
        assert.equal(publisher.isOpen, true, 'publisher still open');
        assert.equal(subscriber.isOpen, true, 'subscriber still open');
        assert.equal(await numpat(redis.port), 0, 'the broker unsubscribed its patterns');
        assert.equal(await publisher.ping(), 'PONG');

        // The subscriber still works for its owner.
        const mine: BrokerMessage[] = [];
        await subscriber.pSubscribe('gym:9:*', (payload, channel) =>
          mine.push({ channel, payload }),
        );
        assert.equal(await publisher.publish('gym:9:x', 'mine'), 1);
        await waitFor(() => mine.length >= 1, 'the own subscription delivers', 2_000);
        assert.deepEqual(mine, [{ channel: 'gym:9:x', payload: 'mine' }]);
        assert.equal(got.messages.length, 1, 'nothing more for the closed broker');
        assert.deepEqual(errors, []);
      } finally {
        await close();
      }
      assert.equal(publisher.isOpen, false);
      assert.equal(subscriber.isOpen, false);
    });

    it('a subscribe racing close() leaves no listener behind', async () => {
      const redis = await getRedis();
      const { publisher, subscriber, close } = await connectPair(createClient, redis.url, () => {});
      try {
        const broker = createRedisBroker({ publisher, subscriber });
        const got = collector('raced');
        const subscribing = broker.subscribe('gym:1:*', got.handler);
        await broker.close();
        const outcome = await subscribing.then(
          () => 'resolved',
          (err: unknown) => (err instanceof EventrailError ? err.code : String(err)),
        );
        assert.ok(
          outcome === 'resolved' || outcome === 'broker-closed',
          `subscribe racing close() ended with ${outcome}`,
        );
        assert.equal(await numpat(redis.port), 0, 'no pattern left on the given subscriber');
        assert.equal(await publisher.publish('gym:1:students', 'after close'), 0);
        await sleep(QUIET_MS);
        assert.deepEqual(got.messages, [], 'nothing delivered after close()');
      } finally {
        await close();
      }
    });

    it('keeps a history through the given publisher: stored, announced with its id, read back', async () => {
      const redis = await startRedis(); // a fresh server: the first append meets NOSCRIPT
      const clients = await connectPair(createClient, redis.url, () => {});
      const broker = createRedisBroker({ ...clients });
      try {
        const history = broker.history;
        assert.ok(history, 'history on by default');
        const got = collector('gym:1:*');
        await broker.subscribe('gym:1:*', got.handler);
        const start = await history.position('gym:1');
        assert.ok(typeof start === 'object', 'the position with its epoch');
        const { epoch } = start;
        assert.match(epoch ?? '', /^[0-9a-f]{8}$/);
        const first = await history.append('gym:1', 'gym:1:students', '{"event_type":"a.b"}');
        const second = await history.append('gym:1', 'gym:1:plans', '{"event_type":"c.d"}');
        await got.waitFor(2);
        assert.deepEqual(
          got.messages.map((m) => JSON.parse(m.payload) as unknown),
          [
            { event_type: 'a.b', eventrail_id: first, eventrail_epoch: epoch },
            { event_type: 'c.d', eventrail_id: second, eventrail_epoch: epoch },
          ],
        );
        assert.deepEqual(await history.readSince('gym:1', start.id, undefined, epoch), [
          { id: first, channel: 'gym:1:students', payload: '{"event_type":"a.b"}', epoch },
          { id: second, channel: 'gym:1:plans', payload: '{"event_type":"c.d"}', epoch },
        ]);
        assert.equal(
          await history.readSince('gym:1', start.id, undefined, '00000000'),
          null,
          'the same id in another epoch',
        );
        assert.deepEqual(await history.readSince('gym:1', second), []);
        assert.equal(await history.readSince('gym:1', '1-1'), null, 'an id it never stored');
      } finally {
        await broker.close();
        await clients.close();
        await redis.stop();
      }
    });

    it('a publish that times out while Redis is down is withdrawn, never sent later', async () => {
      const redis = await startRedis(); // its own server: this one gets killed
      const clients = await connectPair(createClient, redis.url, () => {});
      const broker = createRedisBroker({ ...clients, publishTimeoutMs: 300, history: false });
      try {
        await broker.publish('gym:1:students', 'before');
        await redis.kill();
        // Once the client knows, it queues commands until it reconnects.
        await waitFor(() => clients.publisher.isReady === false, 'the client sees Redis gone');
        // It fails with broker-error once publishTimeoutMs is over, rather than waiting for Redis.
        await rejectsWithCode(broker.publish('gym:1:students', 'lost'), 'broker-error', 'publish');
        await redis.restart();
        // Once the client is back, what it still had queued would be sent: the withdrawn publish
        // must not be among it.
        await waitFor(() => clients.publisher.isReady === true, 'the client reconnects', 10_000);
        await sleep(QUIET_MS);
        const stats = () => redisCommand(redis.port, 'INFO', 'commandstats').then(String);
        assert.doesNotMatch(await stats(), /cmdstat_publish:/, 'the withdrawn publish never ran');
        await broker.publish('gym:1:students', 'after');
        assert.match(await stats(), /cmdstat_publish:calls=1,/, 'a publish after the restart runs');
      } finally {
        await broker.close();
        await clients.close();
        await redis.stop();
      }
    });
  });
}
