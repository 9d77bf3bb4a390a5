/**
 * `npm run demo:cluster` with DEMO_REDIS=cluster: the demo starts a Redis Cluster of its own (six
 * nodes, every one `cluster_state:ok`), its instances run on it (an edit crosses them), and
 * SIGTERM to cluster.ts alone stops every node and removes their directory.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { describe, it } from 'node:test';
import { startDemoCluster } from './e2e/cluster.js';
import { editsCrossInstances } from './helpers/cluster-examples.js';
import { redisCommand, redisSkipReason } from './helpers/redis.js';
import { waitFor } from './helpers/sse.js';

/** True when nothing listens on `port` of 127.0.0.1. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('demo:cluster with a Redis Cluster of its own', { skip: redisSkipReason() }, () => {
  it('DEMO_REDIS=cluster: runs on a cluster of its own and stops it on SIGTERM', async () => {
    const demo = await startDemoCluster({ DEMO_REDIS: 'cluster' });
    let ports: number[] = [];
    try {
      const line = /started a Redis Cluster .* in (\S+) at (\S+)/.exec(demo.output());
      assert.ok(line, `the cluster it started, in:\n${demo.output()}`);
      const dir = line[1] as string;
      assert.ok(existsSync(dir), dir);
      ports = (line[2] as string).split(',').map((node) => Number(node.split(':')[1]));
      assert.equal(ports.length, 6);
      for (const port of ports)
        assert.match(String(await redisCommand(port, 'CLUSTER', 'INFO')), /cluster_state:ok/);
      await editsCrossInstances(demo, [1]);
      // cluster.ts alone (not its process group): it stops the nodes itself.
      process.kill(demo.pid, 'SIGTERM');
      await waitFor(
        async () => (await Promise.all(ports.map(refused))).every(Boolean),
        'every node of the cluster stopped',
        15_000,
      );
      await waitFor(() => !existsSync(dir), `its directory ${dir} removed`, 5_000);
    } finally {
      await demo.stop();
    }
  });
});
