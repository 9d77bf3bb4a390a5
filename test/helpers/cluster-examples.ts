/**
 * For the tests that run the examples on a Redis Cluster: one cluster per test file, scopes
 * spread over its masters, the REDIS_CLUSTER value the examples read, and edits of the gym demo
 * crossing its instances.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import type { DemoCluster } from '../e2e/cluster.js';
import { type RedisClusterProcess, redisCommand, startRedisCluster } from './redis.js';
import { openRaw, type RawStream, sleep, waitFor } from './sse.js';

/** A Redis Cluster for the calling test file (as `redisPerFile` of ./redis-brokers.ts for one Redis). */
export function clusterPerFile(): () => Promise<RedisClusterProcess> {
  let started: Promise<RedisClusterProcess> | undefined;
  after(async () => {
    if (started) await (await started).stop();
  });
  return () => {
    started ??= startRedisCluster();
    return started;
  };
}

/**
 * Three ids of `scope` from `first` on, `[id, master port]`, one on each master: the master that
 * owns the scope's shard channel `eventrail:{<scope>:<id>}`.
 */
export async function onePerMaster(
  cluster: RedisClusterProcess,
  scope: string,
  first: number,
): Promise<Array<[number, number]>> {
  const masters = new Map<number, number>();
  for (let id = first; masters.size < 3 && id < first + 1000; id++) {
    const master = await cluster.masterOf(`eventrail:{${scope}:${id}}`);
    if (!masters.has(master)) masters.set(master, id);
  }
  assert.equal(masters.size, 3, `a ${scope} on each of the three masters`);
  return [...masters].map(([master, id]) => [id, master]);
}

/** REDIS_CLUSTER naming two of the six nodes (a master and a replica): the rest is discovered. */
export function redisClusterEnv(cluster: RedisClusterProcess): string {
  return [cluster.nodes[0], cluster.nodes[3]].map((node) => `127.0.0.1:${node?.port}`).join(',');
}

/** How many subscribers `channel` has on the master `port` (sharded Pub/Sub). */
export async function shardSubscribers(port: number, channel: string): Promise<number> {
  const reply = await redisCommand(port, 'PUBSUB', 'SHARDNUMSUB', channel);
  return Array.isArray(reply) ? Number(reply[1]) : Number.NaN;
}

/** Signs in at `instance` and returns the session cookie. */
async function login(instance: string, user: string, gym: number): Promise<string> {
  const answer = await fetch(`${instance}/login?user=${user}&gym=${gym}`, { redirect: 'manual' });
  assert.equal(answer.status, 303);
  const cookie = answer.headers.get('set-cookie')?.split(';')[0];
  assert.ok(cookie, 'a session cookie');
  return cookie;
}

/** A gym stream opened at `instance`, once it announced itself (and so is subscribed). */
async function gymStream(instance: string, cookie: string): Promise<RawStream> {
  const stream = await openRaw(`${instance}/events`, { headers: { cookie } });
  assert.equal(stream.status, 200);
  await waitFor(() => stream.events.some((e) => e.event === 'eventrail.connected'), 'connected');
  return stream;
}

const changes = (stream: RawStream) =>
  stream.events.filter((e) => e.event === 'app.students.changed').map((e) => e.data);

/**
 * For every gym: a user on each instance with a stream there; a student added through the second
 * instance and deleted through the first. Every stream of the gym gets both changes, no other gym's,
 * and both instances list the student in between.
 */
export async function editsCrossInstances(
  demo: DemoCluster,
  gyms: readonly number[],
): Promise<void> {
  await waitFor(() => demo.instances().length === 2, 'the instances line', 5_000);
  const [first, second] = demo.instances() as [string, string];
  const streams: RawStream[] = [];
  try {
    const users: Array<{ gym: number; cookies: [string, string] }> = [];
    for (const gym of gyms) {
      const cookies: [string, string] = [
        await login(first, `a${gym}`, gym),
        await login(second, `b${gym}`, gym),
      ];
      users.push({ gym, cookies });
      streams.push(await gymStream(first, cookies[0]), await gymStream(second, cookies[1]));
    }
    assert.deepEqual(
      streams.map((s) => s.headers.get('x-instance')),
      gyms.flatMap(() => ['instance-1', 'instance-2']),
    );
    for (const { gym, cookies } of users) {
      const added = await fetch(`${second}/students`, {
        method: 'POST',
        headers: {
          cookie: cookies[1],
          'content-type': 'application/x-www-form-urlencoded',
          'hx-request': 'true',
        },
        body: `name=Student+of+${gym}`,
      });
      assert.equal(added.status, 200);
      assert.equal(added.headers.get('x-instance'), 'instance-2');
      assert.match(await added.text(), new RegExp(`Student of ${gym}`));
      const listed = await fetch(`${first}/students/fragment`, { headers: { cookie: cookies[0] } });
      assert.match(await listed.text(), new RegExp(`Student of ${gym}`), 'listed by the other');
      const deleted = await fetch(`${first}/students/1/delete`, {
        method: 'POST',
        headers: { cookie: cookies[0], 'hx-request': 'true' },
      });
      assert.equal(deleted.status, 200);
      assert.doesNotMatch(await deleted.text(), /Student of/);
    }
    await waitFor(() => streams.every((s) => changes(s).length >= 2), 'both changes', 10_000);
    await sleep(200); // anything else (another gym's change) would have arrived by now
    for (const [i, stream] of streams.entries())
      assert.deepEqual(changes(stream), ['{"id":1}', '{"id":1}'], `stream ${i}`);
  } finally {
    for (const stream of streams) stream.abort();
  }
}
