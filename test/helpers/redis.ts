/**
 * The tests' door to @eventrail/testkit (throwaway redis-server processes and clusters, a tiny RESP
 * client independent of node-redis, a free-port finder), plus the rule for a missing redis-server:
 * a loud skip, or a failure under CI.
 */
import { after } from 'node:test';
import { type RedisClusterProcess, startRedisCluster } from '@eventrail/testkit/cluster';
import { redisAvailable } from '@eventrail/testkit/redis';
import { missingTool } from './ci.js';

export { type RedisClusterProcess, startRedisCluster };

/**
 * One Redis Cluster for a whole test file, started by the first test that asks for it and stopped
 * after the file's tests (call at the file's top level).
 */
export function sharedRedisCluster(): () => Promise<RedisClusterProcess> {
  let started: Promise<RedisClusterProcess> | undefined;
  after(async () => {
    if (started) await (await started).stop();
  });
  return () => {
    started ??= startRedisCluster();
    return started;
  };
}
export { findFreePort } from '@eventrail/testkit/port';
export {
  type RedisProcess,
  redisAvailable,
  redisCli,
  startRedis,
} from '@eventrail/testkit/redis';
export {
  connectRaw,
  type RawPubSubMessage,
  type RawRedisConnection,
  RespError,
  type RespValue,
  redisCommand,
} from '@eventrail/testkit/resp';

/**
 * The reason to skip Redis tests, or `undefined` when redis-server is available. Use it as
 * `describe('...', { skip: redisSkipReason() }, ...)`.
 * @throws when redis-server is missing under CI (see `isCi`): CI must not pass by skipping.
 */
export function redisSkipReason(): string | undefined {
  if (redisAvailable) return undefined;
  return missingTool(
    'redis-server',
    'redis-server not found on PATH',
    'Install Redis (e.g. `apt-get install redis-server`) instead of letting the Redis tests skip.',
  );
}
