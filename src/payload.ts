/**
 * The Redis payload contract shared with the Go eventrail:
 * `{"event_type": "students.changed", "data": {...}}` (plus an optional `origin`).
 */
import { EventrailError } from './errors.js';
import { assertEventType, eventName } from './naming.js';
import { isOrigin } from './protocol.js';
import type { BrokerMessage, OutgoingEvent, PublishableEvent } from './types.js';

/**
 * Serialises an event for the broker. Validates everything first, so that nothing invalid reaches
 * Redis.
 * @throws {@link EventrailError} `invalid-event-type` or `invalid-data`
 */
export function encodePayload(event: PublishableEvent): string {
  if (event === null || typeof event !== 'object') {
    throw new EventrailError(
      'invalid-data',
      'An event must be an object { eventType, data?, origin? }.',
    );
  }
  assertEventType(event.eventType);
  if (event.origin !== undefined && !isOrigin(event.origin)) {
    throw new EventrailError(
      'invalid-data',
      `origin must be 1-128 characters of [A-Za-z0-9_-], got ${JSON.stringify(event.origin)}.`,
    );
  }
  let data: string | undefined;
  try {
    data = event.data === undefined ? '{}' : JSON.stringify(event.data);
  } catch (err) {
    throw new EventrailError('invalid-data', 'Event data cannot be serialised to JSON.', {
      cause: err,
    });
  }
  if (data === undefined) {
    throw new EventrailError(
      'invalid-data',
      `Event data of type ${typeof event.data} has no JSON form.`,
    );
  }
  const origin = event.origin === undefined ? '' : `,"origin":${JSON.stringify(event.origin)}`;
  return `{"event_type":${JSON.stringify(event.eventType)},"data":${data}${origin}}`;
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
  const { event_type: type, data, origin } = parsed as Record<string, unknown>;
  if (!isEventType(type)) return { name: 'message', data: raw };
  return {
    name: eventName(prefix, type),
    data: data === undefined ? '{}' : JSON.stringify(data),
    origin: isOrigin(origin) ? origin : undefined,
  };
}
