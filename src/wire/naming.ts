import { EventrailError } from '../errors.js';

/** A value as error messages show it: never throws (BigInt, Proxies), never very long. */
export function describeValue(value: unknown): string {
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : `a value of type ${typeof value}`;
  } catch {
    text = `a value of type ${typeof value}`;
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Longest scope, scope id or topic we accept, in UTF-16 code units. */
const MAX_PART_LENGTH = 128;
/** Longest event type (and therefore SSE event name body) we accept. */
const MAX_EVENT_TYPE_LENGTH = 256;

// One part of `{scope}:{scope_id}:{topic}`: no Redis glob characters (* ? [ ] ^ \), no `:`,
// no whitespace and no control characters, so a part can never widen a pattern or split a frame.
// No lone surrogate (\p{Cs} matches one only when it is not half of a pair): Redis stores a name
// as UTF-8, which has no bytes for one, and node-redis writes U+FFFD in its place, so `acme\uD800`
// and `acme\uFFFD` would be one channel and one history. UTF-8 is one-to-one on well-formed
// text, so with lone surrogates refused no two accepted names share their bytes; U+FFFD itself
// stays an ordinary character.
const PART = /^[^\s*?[\]^\\:\p{Cc}\p{Cs}]+$/u;
// Event types travel in the SSE `event:` field: CR, LF and NUL would end or corrupt the frame,
// and other control characters have no business there either.
const EVENT_TYPE = /^[^\p{Cc}]+$/u;

/** The three parts of a channel or pattern. */
export interface ChannelParts {
  readonly scope: string;
  readonly scopeId: string;
  readonly topic: string;
}

/** True when `part` may stand as a scope, scope id or topic. */
export function isValidPart(part: string): boolean {
  return part.length > 0 && part.length <= MAX_PART_LENGTH && PART.test(part);
}

function split(value: unknown, kind: 'channel' | 'pattern'): [string, string, string] {
  const code = kind === 'channel' ? 'invalid-channel' : 'invalid-pattern';
  if (typeof value !== 'string') {
    throw new EventrailError(code, `A ${kind} must be a string, got ${typeof value}.`);
  }
  const parts = value.split(':');
  if (parts.length !== 3) {
    throw new EventrailError(
      code,
      `${kind} ${describeValue(value)} must have the form {scope}:{scope_id}:{topic}, e.g. "gym:1:students".`,
    );
  }
  return parts as [string, string, string];
}

function describePart(name: string, part: string, kind: 'channel' | 'pattern'): never {
  throw new EventrailError(
    kind === 'channel' ? 'invalid-channel' : 'invalid-pattern',
    `The ${name} ${describeValue(part)} of a ${kind} must be 1-${MAX_PART_LENGTH} characters ` +
      'of well-formed Unicode without whitespace, control characters, ":" or any of * ? [ ] ^ \\.',
  );
}

/**
 * Whether `channel` is an event channel of the scope `scopeKey` (`gym:1`): exactly
 * `{scopeKey}:{topic}` with a valid topic (no further `:`). What a broker hands a hub, live or
 * from the history, is checked with this before it is delivered.
 */
export function belongsTo(scopeKey: string, channel: string): boolean {
  return (
    channel.startsWith(scopeKey) &&
    channel.charCodeAt(scopeKey.length) === 58 /* : */ &&
    isValidPart(channel.slice(scopeKey.length + 1))
  );
}

/**
 * Checks a publish channel `{scope}:{scope_id}:{topic}` and returns its parts.
 * @throws {@link EventrailError} `invalid-channel`
 */
export function parseChannel(channel: unknown): ChannelParts {
  const [scope, scopeId, topic] = split(channel, 'channel');
  if (!isValidPart(scope)) describePart('scope', scope, 'channel');
  if (!isValidPart(scopeId)) describePart('scope id', scopeId, 'channel');
  if (!isValidPart(topic)) describePart('topic', topic, 'channel');
  return { scope, scopeId, topic };
}

/**
 * Checks a route pattern: scope and scope id literal, topic literal or `*`.
 * Global patterns such as `*` or `gym:*` and partial globs such as `gym:1*` are refused.
 * @throws {@link EventrailError} `invalid-pattern`
 */
export function parsePattern(pattern: unknown): ChannelParts {
  const [scope, scopeId, topic] = split(pattern, 'pattern');
  if (!isValidPart(scope)) describePart('scope', scope, 'pattern');
  if (!isValidPart(scopeId)) describePart('scope id', scopeId, 'pattern');
  if (topic !== '*' && !isValidPart(topic)) describePart('topic', topic, 'pattern');
  return { scope, scopeId, topic };
}

/**
 * Checks an event type such as `students.changed`.
 * @throws {@link EventrailError} `invalid-event-type`
 */
export function assertEventType(
  eventType: unknown,
  what = 'event type',
): asserts eventType is string {
  if (
    typeof eventType !== 'string' ||
    eventType.length === 0 ||
    eventType.length > MAX_EVENT_TYPE_LENGTH ||
    !EVENT_TYPE.test(eventType)
  ) {
    throw new EventrailError(
      'invalid-event-type',
      `The ${what} must be a string of 1-${MAX_EVENT_TYPE_LENGTH} characters without CR, LF, NUL ` +
        `or other control characters, got ${describeValue(eventType)}.`,
    );
  }
  // eventrail's own events (`eventrail.connected`, `eventrail.resync`) drive the browser client:
  // a publisher must not be able to send one.
  if (eventType.startsWith(RESERVED_PREFIX) || eventType === RESERVED_PREFIX.slice(0, -1)) {
    throw new EventrailError(
      'invalid-event-type',
      `The ${what} ${describeValue(eventType)} is reserved: names starting with "${RESERVED_PREFIX}" belong to eventrail itself.`,
    );
  }
}

/** Event names eventrail writes itself start with this; nobody may publish one. */
const RESERVED_PREFIX = 'eventrail.';

/**
 * The SSE event name for an event type: `{prefix}.{eventType}`, or the type alone without a
 * prefix. The prefix is not added twice when the type already starts with `{prefix}.`.
 */
export function eventName(prefix: string, eventType: string): string {
  if (prefix === '' || eventType.startsWith(`${prefix}.`)) return eventType;
  return `${prefix}.${eventType}`;
}
