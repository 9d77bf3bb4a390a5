/**
 * node-redis 5, which `peerDependencies` accepts (`redis >=5`): the Redis broker contract suite
 * and the given-client tests on clients created from it (the dev dependency `redis5`, an npm
 * alias of `redis@^5`; brokers.test.ts runs them on node-redis 6).
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { it } from 'node:test';
import { createClient } from 'redis5';
import { brokerContract } from './helpers/broker-contract.js';
import { givenClientTests } from './helpers/given-clients.js';
import { redisSkipReason } from './helpers/redis.js';
import { givenClientsFactory, redisPerFile } from './helpers/redis-brokers.js';

const skipRedis = redisSkipReason();

const getRedis = redisPerFile();

it('runs node-redis 5', () => {
  const version = (createRequire(import.meta.url)('redis5/package.json') as { version: string })
    .version;
  assert.match(version, /^5\./, `redis5 resolves to node-redis ${version}`);
});

brokerContract('Redis broker (node-redis 5 clients)', givenClientsFactory(createClient, getRedis), {
  skip: skipRedis,
  outsidePublisher: true,
});
givenClientTests('node-redis 5', createClient, getRedis, skipRedis);
