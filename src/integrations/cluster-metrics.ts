/** The metrics of a box's workers in one scrape: prom-client's cluster aggregation. */
import {
  AggregatorRegistry,
  type OpenMetricsContentType,
  type PrometheusContentType,
  type Registry,
} from 'prom-client';

/**
 * Call in every process of a box (node:cluster, `eventrail/cluster`), primary and workers alike.
 * In a worker it answers the primary's scrapes with `registries` (prom-client's global `register`
 * when not given); prom-client answers only once such a registry exists in the worker, so a
 * worker that skips this call fails every scrape of the box. In the primary, serve its
 * `clusterMetrics()`: every worker's metrics added up, as {@link createMetrics} tells prom-client
 * to add each one.
 *
 * @example
 * ```ts
 * // in every process: the worker's metrics go to `registry`
 * const box = createClusterRegistry([registry]);
 * // in the primary, on GET /metrics:
 * res.writeHead(200, { 'Content-Type': box.contentType }).end(await box.clusterMetrics());
 * ```
 * @public
 */
export function createClusterRegistry(
  registries?: ReadonlyArray<Registry | Registry<OpenMetricsContentType>>,
): AggregatorRegistry<PrometheusContentType> {
  if (registries !== undefined) AggregatorRegistry.setRegistries([...registries] as Registry[]);
  return new AggregatorRegistry();
}
