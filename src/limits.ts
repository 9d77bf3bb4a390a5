import { EventrailError } from './errors.js';
import { wholeNumber } from './util/whole-number.js';

/**
 * Limits of `createSseServer`: what one process and one principal may hold. Every refusal is
 * chosen knowing that a browser's EventSource stops for good on any status but 200 (see README:
 * Limits).
 * @public
 */
export interface LimitOptions {
  /** Open streams per process; more get `retry: limitRetryMs` and an ended stream. @defaultValue `10000` */
  maxConnections?: number;
  /** Open streams per principal (`scopeId` + `userId`): tabs of one user. @defaultValue `32` */
  maxConnectionsPerPrincipal?: number;
  /**
   * Patterns a router may return for one principal; more is a 500 (a bug in the router). With a
   * history at most 128: every event id carries a position per scope, about 11 bytes each (32 at
   * most), and must fit in the `Last-Event-ID` header.
   * @defaultValue `64`
   */
  maxRoutesPerPrincipal?: number;
  /**
   * A stream older than this is drained like on shutdown: the browser reconnects, is
   * authenticated again and resumes with its Last-Event-ID. 0 keeps streams forever.
   * @defaultValue `3600000` (1 h)
   */
  maxConnectionLifetimeMs?: number;
  /** The `retry:` (plus up to 50% jitter) given to a client refused by a connection limit. @defaultValue `30000` */
  limitRetryMs?: number;
  /**
   * Bytes a client may have waiting in its socket before backpressure applies, whatever the
   * number of events. @defaultValue `1048576` (1 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * How long a client's socket may stay congested without draining before backpressure applies
   * (see `backpressure`), whatever the bytes: a client that reads, however far behind it starts,
   * keeps its stream; one that stops reading is acted on. The default lets a slow mobile link
   * (about 35 KB/s) move a full `maxBufferedBytes`. @defaultValue `30000`
   */
  maxStallMs?: number;
  /**
   * Origins allowed to open a stream cross-origin, e.g. `['https://app.example.com']`. A request
   * with another `Origin` gets 403 before anything is resolved, subscribed or counted. Unset:
   * no check (same-origin pages; browsers block cross-origin reads without CORS headers anyway).
   */
  allowedOrigins?: readonly string[];
  /** Send `Access-Control-Allow-Credentials: true` to allowed origins (cookies cross-origin). @defaultValue `false` */
  allowCredentials?: boolean;
  /**
   * The largest payload `server.publisher` publishes, in bytes of JSON. The server also refuses
   * to write a broker message longer than this plus 2 KiB (another program's): that scope's
   * clients get a resync instead, and `onError` a `payload-too-large`. @defaultValue `65536`
   */
  maxPayloadBytes?: number;
  /**
   * History reads (replays after a reconnect, recoveries after a broker gap, start positions) one
   * process runs at once; the others wait their turn, first come first served. Identical reads
   * waiting together are made once and shared. See docs/guarantees.md: Reconnect storms.
   * @defaultValue `16`
   */
  maxConcurrentHistoryReads?: number;
  /**
   * New streams one process opens per second, with a burst of one second's worth; 0 opens every
   * request at once. A request beyond it (a reconnect storm: another instance died or drained) is
   * not refused: it gets `200` with only a `retry:` naming its own later slot, in the order the
   * requests came (the k-th deferred of a burst `retry:` between (k+1) and (k+2) slot lengths),
   * so the burst comes back spread at the rate the process opens. See docs/guarantees.md:
   * Reconnect storms. @defaultValue `0` (off)
   */
  maxOpeningsPerSecond?: number;
}

/** The defaults of {@link LimitOptions}. @public */
export const LIMIT_DEFAULTS = {
  maxConnections: 10_000,
  maxConnectionsPerPrincipal: 32,
  maxRoutesPerPrincipal: 64,
  maxConnectionLifetimeMs: 3_600_000,
  limitRetryMs: 30_000,
  maxBufferedBytes: 1_048_576,
  maxStallMs: 30_000,
  allowCredentials: false,
  maxPayloadBytes: 65_536,
  maxConcurrentHistoryReads: 16,
  maxOpeningsPerSecond: 0,
} as const;

export type ResolvedLimits = Required<Omit<LimitOptions, 'allowedOrigins'>> & {
  readonly allowedOrigins: ReadonlySet<string> | undefined;
};

/** Fills the limit defaults and checks them. */
export function resolveLimits(options: LimitOptions): ResolvedLimits {
  let origins: Set<string> | undefined;
  if (options.allowedOrigins !== undefined) {
    if (!Array.isArray(options.allowedOrigins)) {
      throw new EventrailError(
        'invalid-option',
        'allowedOrigins must be an array such as ["https://app.example.com"].',
      );
    }
    origins = new Set();
    for (const origin of options.allowedOrigins) {
      if (origin === '*') {
        throw new EventrailError(
          'invalid-option',
          'allowedOrigins must list origins: "*" would let any site read your users\' events. Leave it unset for same-origin pages.',
        );
      }
      let parsed: URL;
      try {
        parsed = new URL(origin);
      } catch {
        throw new EventrailError(
          'invalid-option',
          `allowedOrigins: ${JSON.stringify(origin)} is not an origin like "https://app.example.com".`,
        );
      }
      if (parsed.origin !== origin) {
        throw new EventrailError(
          'invalid-option',
          `allowedOrigins: write ${JSON.stringify(parsed.origin)}, not ${JSON.stringify(origin)}.`,
        );
      }
      origins.add(origin);
    }
  }
  return {
    maxConnections: wholeNumber(
      'maxConnections',
      options.maxConnections,
      LIMIT_DEFAULTS.maxConnections,
      1,
    ),
    maxConnectionsPerPrincipal: wholeNumber(
      'maxConnectionsPerPrincipal',
      options.maxConnectionsPerPrincipal,
      LIMIT_DEFAULTS.maxConnectionsPerPrincipal,
      1,
    ),
    maxRoutesPerPrincipal: wholeNumber(
      'maxRoutesPerPrincipal',
      options.maxRoutesPerPrincipal,
      LIMIT_DEFAULTS.maxRoutesPerPrincipal,
      1,
    ),
    maxConnectionLifetimeMs: wholeNumber(
      'maxConnectionLifetimeMs',
      options.maxConnectionLifetimeMs,
      LIMIT_DEFAULTS.maxConnectionLifetimeMs,
      0,
    ),
    limitRetryMs: wholeNumber('limitRetryMs', options.limitRetryMs, LIMIT_DEFAULTS.limitRetryMs, 0),
    maxBufferedBytes: wholeNumber(
      'maxBufferedBytes',
      options.maxBufferedBytes,
      LIMIT_DEFAULTS.maxBufferedBytes,
      1024,
    ),
    maxStallMs: wholeNumber('maxStallMs', options.maxStallMs, LIMIT_DEFAULTS.maxStallMs, 1),
    allowedOrigins: origins,
    allowCredentials: options.allowCredentials ?? LIMIT_DEFAULTS.allowCredentials,
    maxPayloadBytes: wholeNumber(
      'maxPayloadBytes',
      options.maxPayloadBytes,
      LIMIT_DEFAULTS.maxPayloadBytes,
      64,
    ),
    maxConcurrentHistoryReads: wholeNumber(
      'maxConcurrentHistoryReads',
      options.maxConcurrentHistoryReads,
      LIMIT_DEFAULTS.maxConcurrentHistoryReads,
      1,
    ),
    maxOpeningsPerSecond: wholeNumber(
      'maxOpeningsPerSecond',
      options.maxOpeningsPerSecond,
      LIMIT_DEFAULTS.maxOpeningsPerSecond,
      0,
    ),
  };
}
