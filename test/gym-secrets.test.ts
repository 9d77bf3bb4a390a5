/**
 * The gym demo's start-up line names its Redis without the password (issue 25, item 10): the
 * demo runs for real on a Redis whose ACL user needs one, and everything it printed is read.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { withoutPassword } from '../examples/shared/log.js';
import { type RunningExample, startExample } from './helpers/examples.js';
import { type RedisProcess, redisCommand, redisSkipReason, startRedis } from './helpers/redis.js';
import { waitFor } from './helpers/sse.js';

const SECRET = 's3cret-Pw_9';

describe('withoutPassword', () => {
  it('replaces the password, keeps the rest, prints nothing of what does not parse', () => {
    assert.equal(withoutPassword(`redis://app:${SECRET}@h:6379/2`), 'redis://app:***@h:6379/2');
    assert.equal(withoutPassword(`rediss://:${SECRET}@h:6380`), 'rediss://:***@h:6380');
    assert.equal(withoutPassword('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
    assert.doesNotMatch(withoutPassword(`not a url ${SECRET}`), /s3cret/);
  });
});

describe('the gym demo on a Redis with a password', { skip: redisSkipReason() }, () => {
  let redis: RedisProcess | undefined;
  let gym: RunningExample | undefined;
  after(async () => {
    await gym?.stop();
    await redis?.stop();
  });

  it('prints its Redis URL without the password', async () => {
    redis = await startRedis();
    // A user of its own with a password; the default user stays open for the test's commands.
    await redisCommand(
      redis.port,
      'ACL',
      'SETUSER',
      'demo',
      'on',
      `>${SECRET}`,
      '~*',
      '&*',
      '+@all',
    );
    const url = `redis://demo:${SECRET}@127.0.0.1:${redis.port}`;
    gym = await startExample('examples/gym/server.ts', { REDIS_URL: url });
    const started = gym;
    await waitFor(() => /listening on .*\)/.test(started.output()), 'the start-up line');
    assert.match(
      started.output(),
      new RegExp(`redis://demo:\\*\\*\\*@127\\.0\\.0\\.1:${redis.port}`),
    );
    assert.doesNotMatch(started.output(), /s3cret/);
    // And it really runs on that Redis, as that user.
    const clients = String(await redisCommand(redis.port, 'CLIENT', 'LIST'));
    assert.match(clients, /user=demo/);
  });
});
