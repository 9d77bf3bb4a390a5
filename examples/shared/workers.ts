/**
 * Every example on `WORKERS` processes (`auto`: one per core; default 1, one process as before),
 * with eventrail/cluster. The workers share PORT; the primary serves the box on BOX_PORT (default
 * 9464, 0 picks a free port): `/metrics` (every worker's metrics in one scrape, prom-client's
 * AggregatorRegistry) and `/healthz` (each worker's health; 503 unless all are up and ok).
 * Several workers need a broker they all reach: REDIS_URL or REDIS_CLUSTER.
 */
import { createServer } from 'node:http';
import {
  type ClusterMember,
  type ClusterPrimary,
  startCluster,
  workerCount,
} from 'eventrail/cluster';
import { createClusterRegistry } from 'eventrail/metrics';
import type { Registry } from 'prom-client';
import { redisFromEnv } from './broker-env.js';
import { lineLogger } from './log.js';

/** Serves the box's metrics and health; prints `box of <n> workers: http://127.0.0.1:<port>`. */
function serveBox(box: ClusterPrimary): void {
  // Created in the primary before any scrape: it asks every worker for its registries.
  const aggregator = createClusterRegistry();
  const server = createServer(async (req, res) => {
    try {
      if (req.url === '/metrics') {
        const body = await aggregator.clusterMetrics();
        res.writeHead(200, { 'Content-Type': aggregator.contentType }).end(body);
      } else if (req.url === '/healthz') {
        const health = await box.health();
        res
          .writeHead(health.ok ? 200 : 503, { 'Content-Type': 'application/json' })
          .end(`${JSON.stringify(health)}\n`);
      } else res.writeHead(404).end();
    } catch (err) {
      // A worker that does not answer (starting, dying) fails the scrape: say so, with 503.
      res.writeHead(503).end(`${err instanceof Error ? err.message : String(err)}\n`);
    }
  });
  server.listen(Number(process.env.BOX_PORT ?? 9464), '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    console.log(`[box] ${box.size} workers; metrics and health on http://127.0.0.1:${port}`);
  });
}

/**
 * Call first: in the primary of several workers it never returns; in a worker (or the only
 * process) it resolves, and the example starts its server. `registry` is what a worker gives the
 * box's scrape (prom-client's global registry when not given).
 */
export async function startWorkers(registry?: Registry): Promise<ClusterMember> {
  const workers = process.env.WORKERS;
  if (workerCount(workers) > 1 && redisFromEnv() === undefined) {
    throw new Error(
      `WORKERS=${workers} needs REDIS_URL or REDIS_CLUSTER: the in-memory broker is one process's`,
    );
  }
  const member = await startCluster({ workers, primary: serveBox, logger: lineLogger('box') });
  // Every worker answers the box's scrapes, with or without metrics of its own.
  if (member.workers > 1) createClusterRegistry(registry ? [registry] : undefined);
  return member;
}
