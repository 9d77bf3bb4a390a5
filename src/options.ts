import { EventrailError } from './errors.js';
import type { FleetOptions } from './fleet/options.js';
import { type LimitOptions, type ResolvedLimits, resolveLimits } from './limits.js';
import { assertTracing, type EventTracing } from './tracing.js';
import type {
  BackpressurePolicy,
  Broker,
  EventEncoder,
  Logger,
  Principal,
  PrincipalResolver,
  Router,
  ServerHooks,
} from './types.js';
import { wholeNumber } from './util/whole-number.js';
import { MAX_ID_SCOPES } from './wire/event-ids.js';
import { assertEventType } from './wire/naming.js';

/**
 * Options of `createSseServer`. Only `broker`, `resolver` and `router` are required; every other
 * default is the Go eventrail's.
 * @public
 */
export interface SseServerOptions<P extends Principal = Principal>
  extends LimitOptions,
    FleetOptions<P> {
  /** Where events come from: `createMemoryBroker()` or `createRedisBroker(...)`. */
  broker: Broker;
  /** Request -> principal; throw to answer 401. */
  resolver: PrincipalResolver<P>;
  /** Principal -> patterns such as `gym:1:*`. */
  router: Router<P>;
  /** Prepended to every event type: `app` makes `students.changed` arrive as `app.students.changed`. @defaultValue `''` */
  eventNamePrefix?: string;
  /** Aborting it shuts the server down, as `close()` does. */
  signal?: AbortSignal;
  /**
   * The longest a stream stays silent: a stream that has written nothing for this long gets a
   * comment (`: ping`), so that proxies do not cut it; 0 turns heartbeats off. Streams that receive
   * events get none, and the idle ones are pinged spread over the period in slots of about 100 ms
   * (one timer for the whole server), so that many streams never get theirs in one burst.
   * @defaultValue `30000`
   */
  heartbeatMs?: number;
  /** The `retry:` sent first on every stream: how long a browser waits before reconnecting. @defaultValue `3000` */
  retryMs?: number;
  /**
   * On `close()`, each client is told to reconnect after `retryMs` plus a random share of this,
   * so that drained browsers come back spread out. @defaultValue `5000`
   */
  drainJitterMs?: number;
  /**
   * On `close()`, the open streams are closed at an even pace over this window rather than all at
   * once (each still live until its turn), at no less than 1,000 a second: 10,000 streams take
   * 10 s, 100 take 0.1 s. `close()` resolves when the last one is closed. 0 closes them all at
   * once. @defaultValue `10000`
   */
  drainWindowMs?: number;
  /** Extra response headers on every stream (e.g. CORS). They cannot replace the SSE headers. */
  headers?: Readonly<Record<string, string>>;
  /**
   * With `backpressure: 'coalesce'`, the most event names a congested client may have waiting
   * (the newest of each is kept); past it they collapse into one resync. Slow clients are
   * otherwise judged by the bytes waiting for them (`maxBufferedBytes`) and how long their socket
   * stays full without draining (`maxStallMs`), never by how many events one burst held.
   * @defaultValue `128`
   */
  bufferSize?: number;
  /** What happens when a client's buffer is full: cut it (it reconnects), skip events, or coalesce them. @defaultValue `'disconnect'` */
  backpressure?: BackpressurePolicy;
  /** How long a scope's broker subscription outlives its last client. @defaultValue `300000` (5 min) */
  hubIdleTimeoutMs?: number;
  /**
   * The longest a new stream waits for the broker (its scopes' subscriptions and history
   * positions) before it is answered anyway: `200` with a jittered `retry:` (`retryMs` plus up to
   * `drainJitterMs`) and the end of the stream, so the browser comes back later, maybe to another
   * instance. While it waits it counts against the connection limits; `close()` answers it at once.
   * @defaultValue `3000`
   */
  openTimeoutMs?: number;
  /**
   * While streams are refused because the broker is unavailable, the longest time between two
   * reports of it (to `onError` and `logger`): the first refusal is reported, then one reminder per
   * period with the count, then (to `logger`, at `info`) that streams open again.
   * 0 reports only the first refusal and the recovery.
   * @defaultValue `30000`
   */
  outageReminderMs?: number;
  /** Broker message -> browser event. @defaultValue decodes `{"event_type","data"}`, else `message` */
  encoder?: EventEncoder;
  /** Observability callbacks. */
  hooks?: ServerHooks<P>;
  /**
   * Structured log events (pino's interface): errors, refusals, connects and disconnects at
   * `debug`. Without it eventrail writes nothing anywhere.
   */
  logger?: Logger;
  /**
   * Traces delivery (one span per live event on this server, under the publisher's span) and
   * `server.publisher`'s publishes, e.g. `openTelemetry()` from `eventrail/opentelemetry`.
   * @defaultValue none
   */
  tracing?: EventTracing;
}

/** The defaults, in one place. @public */
export const DEFAULTS = {
  eventNamePrefix: '',
  heartbeatMs: 30_000,
  retryMs: 3_000,
  drainJitterMs: 5_000,
  drainWindowMs: 10_000,
  bufferSize: 128,
  backpressure: 'disconnect',
  hubIdleTimeoutMs: 300_000,
  openTimeoutMs: 3_000,
  outageReminderMs: 30_000,
} as const;

/** Options with every default filled in. */
export interface ResolvedOptions<P extends Principal> {
  readonly broker: Broker;
  readonly resolver: PrincipalResolver<P>;
  readonly router: Router<P>;
  readonly eventNamePrefix: string;
  readonly signal: AbortSignal | undefined;
  readonly heartbeatMs: number;
  readonly retryMs: number;
  readonly drainJitterMs: number;
  readonly drainWindowMs: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly bufferSize: number;
  readonly backpressure: BackpressurePolicy;
  readonly hubIdleTimeoutMs: number;
  readonly openTimeoutMs: number;
  readonly outageReminderMs: number;
  readonly encoder: EventEncoder | undefined;
  readonly hooks: ServerHooks<P>;
  readonly logger: Logger | undefined;
  readonly tracing: EventTracing | undefined;
  readonly limits: ResolvedLimits;
}

function resolveTracing(tracing: EventTracing | undefined): EventTracing | undefined {
  assertTracing(tracing);
  return tracing;
}

function invalid(message: string): never {
  throw new EventrailError('invalid-option', message);
}

// Headers the SSE contract depends on; a user header must not silently break the stream. The
// HTTP/1-only connection headers are refused too: HTTP/2 forbids them (node drops them with a
// warning), and the server manages connections itself.
const RESERVED_HEADERS = new Set([
  'content-type',
  'cache-control',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'proxy-connection',
]);

/** Fills defaults and checks every option, throwing a message that says what to change. */
export function resolveOptions<P extends Principal>(
  options: SseServerOptions<P>,
): ResolvedOptions<P> {
  if (options === null || typeof options !== 'object')
    invalid('createSseServer needs an options object.');
  const { broker, resolver, router } = options;
  if (!broker || typeof broker.subscribe !== 'function' || typeof broker.publish !== 'function') {
    invalid('`broker` is required: pass createMemoryBroker() or createRedisBroker({ url }).');
  }
  if (typeof resolver !== 'function')
    invalid('`resolver` is required: a function (request) => principal.');
  if (typeof router !== 'function')
    invalid('`router` is required: a function (principal) => ["scope:id:*"].');
  const prefix = options.eventNamePrefix ?? DEFAULTS.eventNamePrefix;
  if (prefix !== '') {
    assertEventType(prefix, 'eventNamePrefix');
    if (prefix.endsWith('.'))
      invalid('eventNamePrefix must not end with "." (it is added for you).');
  }
  const backpressure = options.backpressure ?? DEFAULTS.backpressure;
  if (backpressure !== 'disconnect' && backpressure !== 'drop' && backpressure !== 'coalesce') {
    invalid(
      `backpressure must be 'disconnect', 'drop' or 'coalesce', got ${JSON.stringify(backpressure)}.`,
    );
  }
  const bufferSize = wholeNumber('bufferSize', options.bufferSize, DEFAULTS.bufferSize);
  if (bufferSize < 1) invalid('bufferSize must be at least 1.');
  const headers = options.headers ?? {};
  if (headers === null || typeof headers !== 'object')
    invalid('headers must be an object of header names to strings.');
  const hooks = options.hooks ?? {};
  if (hooks === null || typeof hooks !== 'object')
    invalid('hooks must be an object of callbacks, e.g. { onError(err) { ... } }.');
  for (const [name, hook] of Object.entries(hooks)) {
    if (hook !== undefined && typeof hook !== 'function')
      invalid(`hooks.${name} must be a function.`);
  }
  const { logger } = options;
  if (logger !== undefined) {
    for (const level of ['error', 'warn', 'info', 'debug'] as const) {
      if (typeof logger?.[level] !== 'function')
        invalid(
          `logger must have error, warn, info and debug methods (pino's shape); ${level} is missing.`,
        );
    }
  }
  for (const [name, value] of Object.entries(headers)) {
    if (RESERVED_HEADERS.has(name.toLowerCase()))
      invalid(`headers must not set ${name}: eventrail sets it for SSE.`);
    if (typeof value !== 'string' || /[\r\n\0]/.test(value))
      invalid(`header ${name} must be a string without CR, LF or NUL.`);
  }
  if (options.encoder !== undefined && typeof options.encoder !== 'function')
    invalid('encoder must be a function.');
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
    invalid('signal must be an AbortSignal.');
  const limits = resolveLimits(options);
  // Every event id carries a position per scope: the routes bound its length (wire/event-ids.ts).
  if (broker.history && limits.maxRoutesPerPrincipal > MAX_ID_SCOPES)
    invalid(
      `maxRoutesPerPrincipal must be at most ${MAX_ID_SCOPES} with a history: an event id carries a position per scope and must fit in a request header.`,
    );
  return {
    broker,
    resolver,
    router,
    eventNamePrefix: prefix,
    signal: options.signal,
    heartbeatMs: wholeNumber('heartbeatMs', options.heartbeatMs, DEFAULTS.heartbeatMs),
    retryMs: wholeNumber('retryMs', options.retryMs, DEFAULTS.retryMs),
    drainJitterMs: wholeNumber('drainJitterMs', options.drainJitterMs, DEFAULTS.drainJitterMs),
    drainWindowMs: wholeNumber('drainWindowMs', options.drainWindowMs, DEFAULTS.drainWindowMs),
    headers,
    bufferSize,
    backpressure,
    hubIdleTimeoutMs: wholeNumber(
      'hubIdleTimeoutMs',
      options.hubIdleTimeoutMs,
      DEFAULTS.hubIdleTimeoutMs,
    ),
    openTimeoutMs: wholeNumber('openTimeoutMs', options.openTimeoutMs, DEFAULTS.openTimeoutMs, 1),
    outageReminderMs: wholeNumber(
      'outageReminderMs',
      options.outageReminderMs,
      DEFAULTS.outageReminderMs,
    ),
    encoder: options.encoder,
    hooks,
    logger,
    tracing: resolveTracing(options.tracing),
    limits,
  };
}
