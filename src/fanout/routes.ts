import { EventrailError } from '../errors.js';
import { parsePattern } from '../wire/naming.js';

/**
 * A principal's routes grouped by scope: `gym:1` -> null (every topic) or the set of topics.
 * Overlapping patterns collapse here, which is what keeps an event from arriving twice.
 */
export type RouteTable = Map<string, Set<string> | null>;

/**
 * Validates what a router returned and groups it by scope.
 * @throws {@link EventrailError} `invalid-pattern`, or `limit-exceeded` past `maxRoutes`
 */
export function buildRouteTable(
  patterns: unknown,
  maxRoutes = Number.POSITIVE_INFINITY,
): { table: RouteTable; patterns: string[] } {
  if (!Array.isArray(patterns)) {
    throw new EventrailError(
      'invalid-pattern',
      `The router must return an array of patterns, got ${typeof patterns}.`,
    );
  }
  if (patterns.length > maxRoutes) {
    throw new EventrailError(
      'limit-exceeded',
      `The router returned ${patterns.length} patterns, over maxRoutesPerPrincipal (${maxRoutes}).`,
    );
  }
  const table: RouteTable = new Map();
  const unique = new Set<string>();
  for (const pattern of patterns) {
    const { scope, scopeId, topic } = parsePattern(pattern);
    unique.add(pattern as string);
    const key = `${scope}:${scopeId}`;
    const topics = table.get(key);
    if (topic === '*') table.set(key, null);
    else if (topics === undefined) table.set(key, new Set([topic]));
    else topics?.add(topic);
  }
  return { table, patterns: [...unique] };
}
