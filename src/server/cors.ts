import type { HeaderRecord } from '../adapters/transport.js';
import type { ResolvedLimits } from '../limits.js';

/**
 * CORS headers for a request from `origin`: none without an allowlist or an `Origin` header, the
 * origin itself (never `*`) when it is allowed, null when it is refused (answer 403).
 */
export function corsHeaders(
  origin: string | null,
  limits: Pick<ResolvedLimits, 'allowedOrigins' | 'allowCredentials'>,
): HeaderRecord | null {
  if (limits.allowedOrigins === undefined || origin === null) return {};
  if (!limits.allowedOrigins.has(origin)) return null;
  const cors: HeaderRecord = { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' };
  if (limits.allowCredentials) cors['Access-Control-Allow-Credentials'] = 'true';
  return cors;
}
