/** The `--json` records: one per system and scenario. */

import type { CatchUpResult } from './catchup/scenario.js';
import { pooledP99Ms, serverMsPerEvent } from './phases.js';
import type { PresenceResult } from './presence/scenario.js';
import type { ScalingResult } from './scaling/scenario.js';
import { type ChurnResult, type LoadResult, steadyOf } from './scenarios.js';
import type { StormResult } from './storm/scenario.js';

export interface Results {
  fanout: Map<string, LoadResult>;
  scopes: Map<string, LoadResult>;
  churn: Map<string, ChurnResult>;
  scaling?: ScalingResult | undefined;
  catchUp?: CatchUpResult | undefined;
  /** The storm scenario (opt-in): two instances, one killed, one drained. */
  storm?: StormResult | undefined;
  presence?: PresenceResult | undefined;
  /** The all-cores scenario (`cores`): eventrail and the floor on node:cluster, the Go original. */
  cores?: Map<string, LoadResult>;
  /**
   * The box scenario (`box`, opt-in): 40,000 streams on every core, against the floor; each
   * system's loads, one per round.
   */
  box?: Map<string, LoadResult[]>;
  /** Saturation windows (monotonic µs) by profile label. */
  windows: Record<string, [number, number]>;
}

export interface BenchRecord {
  scenario: 'fanout' | 'scopes' | 'idle-memory' | 'churn' | 'redis-cost' | 'scaling' | 'catch-up';
  system: string;
  connections: number;
  deliveredPerSec: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  bytesPerConn: number | null;
  /** Figures of the scenario that have no field above (server CPU per event, Redis cost, churn). */
  details?: Record<string, unknown>;
}

const none = { deliveredPerSec: null, p50Ms: null, p99Ms: null, bytesPerConn: null };

export function toRecords(results: Results): BenchRecord[] {
  const records: BenchRecord[] = [];
  for (const scenario of ['fanout', 'scopes'] as const) {
    for (const [system, r] of results[scenario]) {
      const latency = steadyOf(r);
      records.push({
        scenario,
        system,
        connections: r.connected,
        deliveredPerSec: r.saturation.deliveredPerSec,
        p50Ms: latency.p50Ms,
        p99Ms: latency.p99Ms,
        bytesPerConn: null,
        details: {
          serverCpuMsPerEventSteady: serverMsPerEvent(latency),
          stalls: latency.stalls,
          undelivered: latency.undelivered,
          ...(r.windows && {
            pooledP99Ms: pooledP99Ms(r.windows),
            windowP99Ms: r.windows.map((w) => w.p99Ms),
            windowStalls: r.windows.map((w) => w.stalls),
            aloneStalls: r.alone.stalls,
          }),
        },
      });
    }
  }
  for (const [system, r] of results.fanout) {
    records.push({
      scenario: 'idle-memory',
      system,
      connections: r.connected,
      ...none,
      bytesPerConn: r.rssPerConn,
      details: { heapPerConn: r.heapPerConn },
    });
    if (r.clients === null) continue;
    records.push({
      scenario: 'redis-cost',
      system,
      connections: r.connected,
      ...none,
      details: {
        commandsPerEvent: r.commandsPerEvent,
        redisConnections: r.clients.total,
        subscriberConnections: r.clients.subscribers,
        numpatOneScope: r.clients.numpat,
        numpatScopes: results.scopes.get(system)?.clients?.numpat ?? null,
      },
    });
  }
  for (const [system, r] of results.churn) {
    records.push({
      scenario: 'churn',
      system,
      connections: r.opened,
      ...none,
      details: {
        failed: r.failed,
        heapBefore: r.before.heapUsed,
        heapAfter: r.after.heapUsed,
        socketsBefore: r.before.sockets,
        socketsAfter: r.after.sockets,
        numpatBefore: r.numpatBefore,
        numpatAfter: r.numpatAfter,
        backToBaseline: r.baseline,
        measuredAfterMs: r.waitedMs,
      },
    });
  }
  // Scaling: one record per setup and step; deliveries are publishes (each reaches one scope).
  for (const r of results.scaling?.setups ?? []) {
    for (const step of r.steps) {
      records.push({
        scenario: 'scaling',
        system: r.setup.name,
        connections: 0,
        deliveredPerSec: step.perSec,
        p50Ms: step.latency.p50Ms,
        p99Ms: step.latency.p99Ms,
        bytesPerConn: null,
        details: { ...step, heapPerScope: r.heapPerScope, rssPerScope: r.rssPerScope },
      });
    }
  }
  // Catch-up: replay events/s to the crowd; one client and the storm in the details.
  const c = results.catchUp;
  for (const [system, rates] of c
    ? ([
        ['eventrail', c.eventrail],
        ['floor', c.floor],
      ] as const)
    : []) {
    records.push({
      scenario: 'catch-up',
      system,
      connections: rates.crowd.clients,
      deliveredPerSec: rates.crowdPerSec,
      p50Ms: null,
      p99Ms: null,
      bytesPerConn: c?.bytesPerReplay ?? null,
      details: { onePerSec: rates.onePerSec, ...(system === 'eventrail' && { storm: c?.storm }) },
    });
  }
  return records;
}
