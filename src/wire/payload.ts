/**
 * The Redis payload contract shared with the Go eventrail:
 * `{"event_type": "students.changed", "data": {...}}` (plus an optional `origin`, and a
 * `trace_context` when the publisher traces).
 */
import { EventrailError } from '../errors.js';
import { TRACE_FIELD, validCarrier } from '../tracing.js';
import type { BrokerMessage, OutgoingEvent, PublishableEvent } from '../types.js';
import { rawMember } from './json-member.js';
import { assertEventType, eventName } from './naming.js';
import { isOrigin } from './protocol.js';

/** A validated event, ready for the broker. */
export interface EncodedEvent {
  readonly eventType: string;
  /** The JSON payload. */
  readonly payload: string;
}

/**
 * Serialises an event for the broker, with the event type it read (each field is read once).
 * Validates everything first, so that nothing invalid reaches Redis.
 * @throws {@link EventrailError} `invalid-event-type` or `invalid-data`
 */
export function encodeEvent(event: PublishableEvent): EncodedEvent {
  if (event === null || typeof event !== 'object') {
    throw new EventrailError(
      'invalid-data',
      'An event must be an object { eventType, data?, origin? }.',
    );
  }
  // Each field is read once: a getter must not pass the checks and then change its answer.
  let eventType: unknown;
  let origin: unknown;
  let value: unknown;
  try {
    ({ eventType, origin, data: value } = event);
  } catch (err) {
    throw new EventrailError('invalid-data', 'The event object could not be read.', { cause: err });
  }
  assertEventType(eventType);
  if (origin !== undefined && !isOrigin(origin)) {
    throw new EventrailError(
      'invalid-data',
      'origin must be a connection id (1-128 characters of [A-Za-z0-9_-]), optionally followed by "." and a tab id (1-64 of them).',
    );
  }
  let data: string | undefined;
  try {
    data = value === undefined ? '{}' : JSON.stringify(value);
  } catch (err) {
    throw new EventrailError('invalid-data', 'Event data cannot be serialised to JSON.', {
      cause: err,
    });
  }
  if (data === undefined) {
    throw new EventrailError(
      'invalid-data',
      `Event data of type ${typeof value} has no JSON form.`,
    );
  }
  const originField = origin === undefined ? '' : `,"origin":${JSON.stringify(origin)}`;
  return {
    eventType,
    payload: `{"event_type":${JSON.stringify(eventType)},"data":${data}${originField}}`,
  };
}

function isEventType(value: unknown): value is string {
  try {
    assertEventType(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The default {@link EventEncoder}: a payload with a valid `event_type` becomes
 * `{prefix}.{event_type}` with its `data` (missing data becomes `{}`); anything else (not JSON, no
 * `event_type`, published by another program) is delivered as `message` with the raw payload.
 * Exported so that your own `encoder` can wrap it.
 *
 * @example
 * ```ts
 * createSseServer({ ..., encoder: (message, prefix) =>
 *   message.channel.endsWith(':audit') ? null : decodePayload(message, prefix) });
 * ```
 * @public
 */
export function decodePayload(message: BrokerMessage, prefix: string): OutgoingEvent {
  const raw = message.payload;
  // Only a JSON object can carry event_type; skip the parse for anything else.
  if (raw.charCodeAt(0) !== 123 /* { */) return { name: 'message', data: raw };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { name: 'message', data: raw };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { name: 'message', data: raw };
  }
  const {
    event_type: type,
    data,
    origin,
    [TRACE_FIELD]: trace,
  } = parsed as Record<string, unknown>;
  if (!isEventType(type)) return { name: 'message', data: raw };
  const event = {
    name: eventName(prefix, type),
    // The data as its publisher wrote it, byte for byte, as the Go eventrail passes it on.
    data: data === undefined ? '{}' : (rawMember(raw, 'data') ?? JSON.stringify(data)),
    origin: isOrigin(origin) ? origin : undefined,
  };
  const traceContext = trace === undefined ? undefined : validCarrier(trace);
  return traceContext === undefined ? event : { ...event, traceContext };
}
