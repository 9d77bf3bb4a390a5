/**
 * Framework examples with REDIS_CLUSTER naming a real Redis Cluster the test file starts: events
 * reach only their scope's streams, for scopes on every shard; each scope's shard subscription sits
 * on its master and goes when its last stream does; the rest of the HTTP contract answers as on the
 * other brokers; and SIGTERM ends open streams and exits with 0. test/frameworks.test.ts runs the
 * full contract on the in-memory broker and one Redis.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  clusterPerFile,
  onePerMaster,
  redisClusterEnv,
  shardSubscribers,
} from './cluster-examples.js';
import { type RunningExample, startExample } from './examples.js';
import type { RedisClusterProcess } from './redis.js';
import { redisSkipReason } from './redis.js';
import { openRaw, openSource, sleep, waitFor } from './sse.js';

const NAMES = ['app.students.changed', 'app.demo.ping'];

async function exampleStats(app: RunningExample): Promise<{ connections: number; hubs: number }> {
  const response = await fetch(`${app.url}/stats`);
  assert.equal(response.status, 200);
  return (await response.json()) as { connections: number; hubs: number };
}

/**
 * The suite of the test files that run `examples` (names of examples/<name>/server.ts) with
 * REDIS_CLUSTER naming a cluster the file starts; two at a time (starting one costs seconds).
 */
export function examplesOnCluster(examples: readonly string[]): void {
  const getCluster = clusterPerFile();
  describe(`examples ${examples.join(', ')} with REDIS_CLUSTER`, {
    skip: redisSkipReason(),
    concurrency: 2,
  }, () => {
    let cluster: RedisClusterProcess;
    before(async () => {
      cluster = await getCluster();
    });

    for (const [index, example] of examples.entries()) {
      it(`${example}: delivers per scope on every shard, answers as before, releases, stops`, async () => {
        // Scopes of its own (examples run side by side), one on each master.
        const scopes = await onePerMaster(cluster, 'scope', 1 + index * 1000);
        const channel = (scope: number) => `eventrail:{scope:${scope}}`;
        const app = await startExample(`examples/${example}/server.ts`, {
          REDIS_CLUSTER: redisClusterEnv(cluster),
          HUB_IDLE_TIMEOUT_MS: '100',
        });
        try {
          assert.match(app.output(), /\(Redis Cluster broker\)/);
          const sources = scopes.map(([scope]) =>
            openSource(`${app.url}/events?scope=${scope}`, NAMES),
          );
          await Promise.all(sources.map((s) => s.opened));
          await waitFor(() => sources.every((s) => s.connectionId() !== undefined), 'connected');
          for (const [scope, master] of scopes)
            assert.equal(
              await shardSubscribers(master, channel(scope)),
              1,
              `scope ${scope} on ${master}`,
            );
          for (const [scope] of scopes) {
            const answer = await fetch(
              `${app.url}/publish?scope=${scope}&type=students.changed&data=${scope}`,
              { method: 'POST' },
            );
            assert.equal(answer.status, 202);
            assert.deepEqual(await answer.json(), {
              channel: `scope:${scope}:demo`,
              eventType: 'students.changed',
            });
          }
          await waitFor(() => sources.every((s) => s.events.length >= 1), 'the events', 5_000);
          await sleep(100);
          for (const [i, source] of sources.entries()) {
            const scope = scopes[i]?.[0];
            assert.deepEqual(
              source.events.map((e) => [e.name, e.data]),
              [['app.students.changed', String(scope)]],
              `only its own event at scope ${scope}`,
            );
          }
          // The rest of the contract does not depend on the broker.
          for (const [path, method, status] of [
            ['/events?scope=0', 'GET', 401],
            ['/publish?scope=abc', 'GET', 400],
            ['/publish?scope=1', 'DELETE', 404],
          ] as const) {
            const answer = await fetch(`${app.url}${path}`, { method });
            assert.equal(answer.status, status, `${method} ${path}`);
            await answer.arrayBuffer();
          }
          if (example !== 'basic') {
            assert.deepEqual(await exampleStats(app), { connections: 3, hubs: 3 });
            // Closing the streams releases each scope's shard subscription on its master
            // (HUB_IDLE_TIMEOUT_MS=100; basic keeps the default five minutes).
            for (const source of sources) source.close();
            await waitFor(
              async () => {
                const counts = await Promise.all(
                  scopes.map(([scope, master]) => shardSubscribers(master, channel(scope))),
                );
                return counts.every((n) => n === 0);
              },
              'the shard subscriptions released',
              5_000,
            );
          }
          // A graceful SIGTERM ends open streams and exits with 0.
          const stream = await openRaw(`${app.url}/events?scope=${scopes[0]?.[0]}`);
          assert.equal(stream.status, 200);
          app.child.kill('SIGTERM');
          await stream.ended;
          assert.equal(await app.exited, 0);
        } catch (err) {
          throw new Error(`${String(err)}\n--- ${example} output ---\n${app.output()}`, {
            cause: err,
          });
        } finally {
          await app.stop();
        }
      });
    }
  });
}
