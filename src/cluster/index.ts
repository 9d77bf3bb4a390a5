/**
 * One instance per core: `eventrail/cluster`, on node:cluster. Every worker is an instance to the
 * broker, as instances on other hosts are; the primary serves no stream.
 * @packageDocumentation
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import { EventrailError } from '../errors.js';
import { wholeNumber } from '../util/whole-number.js';
import { WORKERS_ENV } from './messages.js';
import { startPrimary } from './primary.js';
import type { ClusterMember, ClusterOptions } from './types.js';
import { soleMember, workerMember } from './worker.js';

export type {
  BoxHealth,
  ClusterMember,
  ClusterOptions,
  ClusterPrimary,
  ReportedServer,
  WorkerHealth,
} from './types.js';

/**
 * How many processes `workers` asks for: `'auto'` is one per core, `undefined` and `''` are 1.
 * @throws `invalid-option` for anything but a whole number >= 1 or `'auto'`.
 * @public
 */
export function workerCount(workers: number | string | undefined): number {
  if (workers === undefined || workers === '') return 1;
  if (workers === 'auto') return availableParallelism();
  const count =
    typeof workers === 'number' ? workers : /^\d+$/.test(workers) ? Number(workers) : NaN;
  if (!Number.isInteger(count) || count < 1) {
    throw new EventrailError(
      'invalid-option',
      `workers must be a whole number >= 1 or 'auto', got ${JSON.stringify(workers)}.`,
    );
  }
  return count;
}

/**
 * Runs this script on `workers` processes of one box, with node:cluster. Call it first thing:
 *
 * - in a worker (and when `workers` is 1) it resolves at once, and the rest of the script starts
 *   the server as it would without a cluster; the workers share its port;
 * - in the primary it forks the workers, replaces one that dies, runs `options.primary`, and never
 *   resolves: on SIGTERM or SIGINT it sends SIGTERM to every worker (each drains its streams with
 *   `retry:`, so browsers come back to another instance with their Last-Event-ID), SIGKILLs those
 *   still alive after `shutdownTimeoutMs`, and ends the process.
 *
 * A worker ends its server on SIGTERM, as under any process manager; one whose primary is gone
 * (even killed with SIGKILL) is ended at once by node:cluster. Workers share nothing but the port
 * and the broker:
 * several workers need a broker all of them reach (Redis), not the in-memory one.
 *
 * @example
 * ```ts
 * import { startCluster } from 'eventrail/cluster';
 *
 * const member = await startCluster({ workers: process.env.WORKERS }); // 'auto': one per core
 * const sse = createSseServer({ broker, resolver, router });
 * member.observe(sse);
 * ```
 * @throws `invalid-option` when `workers`, `shutdownTimeoutMs` or `restartDelayMs` is invalid.
 * @public
 */
export async function startCluster(options: ClusterOptions): Promise<ClusterMember> {
  const size = workerCount(options.workers);
  const shutdownTimeoutMs = wholeNumber('shutdownTimeoutMs', options.shutdownTimeoutMs, 30_000);
  const restartDelayMs = wholeNumber('restartDelayMs', options.restartDelayMs, 1_000);
  if (cluster.isWorker && cluster.worker !== undefined) {
    return workerMember(cluster.worker, Number(process.env[WORKERS_ENV]) || size);
  }
  if (size === 1) return soleMember();
  const box = startPrimary({ size, shutdownTimeoutMs, restartDelayMs, logger: options.logger });
  let ending = false;
  const end = (code: number): void => {
    if (ending) return;
    ending = true;
    void box.close().then(() => process.exit(code));
  };
  process.once('SIGTERM', () => end(0));
  process.once('SIGINT', () => end(0));
  try {
    await options.primary?.(box);
  } catch (err) {
    await box.close();
    throw err;
  }
  // The primary runs until a signal ends it.
  return new Promise<never>(() => {});
}
