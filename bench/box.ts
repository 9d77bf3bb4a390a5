/**
 * The box scenario (`--scenarios box`, opt-in): what one machine holds with every core serving.
 * eventrail/redis and the floor, each forked by bench/systems/cluster.ts into
 * `box.serverWorkers` processes sharing the port, hold `box.connections` streams (40,000 by
 * default: a process may open 20,000 files here, so servers and load workers split them) over
 * `box.scopes` scopes while `box.eventsPerSec` events a second are published round-robin over
 * the scopes, an app's invalidations; the steady window is long enough for every stream's
 * heartbeat to pass in it. Reported: memory per connection (summed over the workers), p50/p99,
 * the servers' CPU, against the floor run the same way. The systems take turns in
 * `box.rounds` rounds (40,000 streams of both at once would not fit the load workers' files),
 * each round in the other order (A B, B A, A B): a stall of the machine lands on one round of one
 * system, not on a whole system, and the median round is compared.
 */
import { CORES_EVENTRAIL, CORES_FLOOR, type SystemSpec, slug } from './catalog.js';
import type { Config } from './config.js';
import { startWorkers } from './rig.js';
import { type Bench, type LoadResult, load } from './scenarios.js';

/** The two systems of the box, with `serverWorkers` processes each. */
export function boxSystems(config: Config): SystemSpec[] {
  const workers = String(config.box.serverWorkers);
  return [CORES_EVENTRAIL, CORES_FLOOR].map((spec) => ({
    ...spec,
    name: spec.name.replace('all cores', 'box'),
    env: { ...spec.env, WORKERS: workers },
  }));
}

/** The run's config at the box's size: its connections, load workers, rate and window. */
export function boxConfig(config: Config): Config {
  const { box } = config;
  return {
    ...config,
    connections: box.connections,
    workers: box.loadWorkers,
    // Over N scopes the steady rate is given in deliveries: each event reaches connections/scopes.
    steadyScopesDeliveriesPerSec: (box.eventsPerSec * box.connections) / box.scopes,
    steadyMs: box.steadyMs,
  };
}

/** The order of the systems in round `round` (from 0): as given, then reversed, and so on. */
function roundOrder<T>(specs: readonly T[], round: number): T[] {
  return round % 2 === 0 ? [...specs] : [...specs].reverse();
}

/**
 * Runs every system of `specs` at the box's size in `box.rounds` rounds (see {@link roundOrder}),
 * each load on load workers of its own; `attempt` reports each load's time or failure. Returns
 * each system's loads, one per round that completed, in round order.
 */
export async function box(
  bench: Bench,
  specs: readonly SystemSpec[],
  attempt: <T>(what: string, body: () => Promise<T>) => Promise<T | undefined>,
): Promise<Map<string, LoadResult[]>> {
  const config = boxConfig(bench.config);
  const results = new Map<string, LoadResult[]>(specs.map((spec) => [spec.name, []]));
  for (let round = 0; round < config.box.rounds; round++) {
    for (const spec of roundOrder(specs, round)) {
      // Fresh workers per load: a worker's file limit holds one system's share, not two.
      const workers = startWorkers(config, true);
      try {
        const label = `box-${slug(spec.name)}-${round + 1}`;
        const r = await attempt(`${spec.name}, round ${round + 1}`, () =>
          load(spec, { ...bench, workers, config }, config.box.scopes, label, config.steadyMs),
        );
        if (r) results.get(spec.name)?.push(r);
      } finally {
        for (const worker of workers) await worker.kill();
      }
    }
  }
  return results;
}
