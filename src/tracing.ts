/**
 * The tracing contract: how a publish hands its trace context to every delivery, through the
 * broker payload. The core knows nothing of any tracing library; `eventrail/opentelemetry`
 * implements {@link EventTracing} with `@opentelemetry/api`.
 */
import { EventrailError } from './errors.js';

/**
 * Propagation fields (W3C `traceparent`, `tracestate`, `baggage`, ...) carried with an event from
 * its publisher to every server that delivers it. Never sent to browsers.
 * @public
 */
export type TraceCarrier = Readonly<Record<string, string>>;

/** What is being published, for the producer span. @public */
export interface PublishTraceInfo {
  /** The full channel, `gym:1:students`. */
  readonly channel: string;
  /** The scope name (`gym`), without the id: a low-cardinality name for spans. */
  readonly scope: string;
  /** The topic (`students`). */
  readonly topic: string;
  readonly eventType: string;
  /** Bytes of the JSON payload (without the trace fields). */
  readonly payloadBytes: number;
}

/** What one server is delivering, for the consumer span. @public */
export interface DeliverTraceInfo {
  /** The full channel the event was published on. */
  readonly channel: string;
  /** The scope name (`gym`), without the id. */
  readonly scope: string;
  /** The SSE event name written to browsers (`app.students.changed`). */
  readonly eventName: string;
  /** The history id, when the event was stored for replay. */
  readonly id: string | undefined;
  /** What the publisher propagated; undefined when it did not trace (or is not eventrail). */
  readonly carrier: TraceCarrier | undefined;
}

/**
 * Tracing of publish and delivery, passed as the `tracing` option of `createSseServer` and
 * `createPublisher`. Use `openTelemetry()` from `eventrail/opentelemetry`, or implement it for
 * another tracer.
 * @public
 */
export interface EventTracing {
  /**
   * Wraps one publish: start a span, call `send` with the fields that propagate it (or undefined),
   * and end the span when the returned promise settles (with the error when it rejects).
   */
  publish(
    info: PublishTraceInfo,
    send: (carrier: TraceCarrier | undefined) => Promise<void>,
  ): Promise<void>;
  /**
   * Wraps one live event's fan-out on this server: start a span under the publisher's context,
   * call `deliver` inside it (hooks such as `onEventBroadcast` run there) and end the span; it
   * returns how many connections the event was written to.
   */
  deliver(info: DeliverTraceInfo, deliver: () => number): void;
}

/** A field name a propagator may use (W3C names are lower case; keep to a safe alphabet). */
const CARRIER_KEY = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const MAX_CARRIER_FIELDS = 8;
const MAX_CARRIER_BYTES = 1024;

/**
 * A carrier that is safe to embed and to hand to a propagator: at most 8 string fields with
 * plain names, 1 KiB in all; anything else (from a peer that is not eventrail, or forged) is
 * undefined.
 */
export function validCarrier(value: unknown): TraceCarrier | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const carrier: Record<string, string> = {};
  let fields = 0;
  let bytes = 0;
  for (const [key, field] of Object.entries(value)) {
    if (typeof field !== 'string' || !CARRIER_KEY.test(key)) return undefined;
    bytes += key.length + field.length;
    if (++fields > MAX_CARRIER_FIELDS || bytes > MAX_CARRIER_BYTES) return undefined;
    carrier[key] = field;
  }
  return fields === 0 ? undefined : carrier;
}

/** The payload field that carries the trace context (other readers, such as Go, ignore it). */
export const TRACE_FIELD = 'trace_context';

/**
 * Adds the carrier to an encoded payload (`{...}`) as its last field; the payload is returned as
 * it is when the carrier is empty or not valid.
 */
export function withCarrier(payload: string, carrier: TraceCarrier | undefined): string {
  const valid = validCarrier(carrier);
  if (valid === undefined) return payload;
  return `${payload.slice(0, -1)},"${TRACE_FIELD}":${JSON.stringify(valid)}}`;
}

/**
 * Checks the `tracing` option.
 * @throws {@link EventrailError} `invalid-option`
 */
export function assertTracing(tracing: unknown): asserts tracing is EventTracing | undefined {
  if (tracing === undefined) return;
  const t = tracing as Partial<EventTracing> | null;
  if (t === null || typeof t.publish !== 'function' || typeof t.deliver !== 'function') {
    throw new EventrailError(
      'invalid-option',
      'tracing must implement { publish, deliver }, e.g. openTelemetry() from eventrail/opentelemetry.',
    );
  }
}
