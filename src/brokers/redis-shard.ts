/**
 * The wire of the sharded channel mode: one exact shard channel per scope, the event's channel in
 * its payload.
 *
 * A scope `gym:1` is announced on `{prefix}eventrail:{gym:1}`: the hash tag puts it in the slot of
 * the scope's history stream (`eventrail:history:{gym:1}`), so one script stores and announces in
 * one slot, and on a Redis Cluster the scope lives on one shard. The payload is the event's JSON
 * object with the channel first, `{"channel":"gym:1:students","event_type":...}`; another program
 * may put `channel` anywhere in the object. A payload that does not look like a JSON object
 * (`{"...}`) travels as `{"channel":"gym:1:x","eventrail_raw":"<the payload as a JSON string>"}`.
 */
import { EventrailError } from '../errors.js';
import { globMatch } from './glob.js';

/**
 * How events travel through Redis: `pattern`, on their own channel (`PUBLISH gym:1:students`,
 * received with `PSUBSCRIBE gym:1:*`, the Go eventrail's contract), or `sharded`, on their scope's
 * shard channel (`SPUBLISH`/`SSUBSCRIBE`, Redis >= 7).
 * @public
 */
export type ChannelMode = 'pattern' | 'sharded';

/** The field of a shard payload that carries a payload that is not a JSON object. */
const RAW_FIELD = 'eventrail_raw';
const HEAD = '{"channel":';
const RAW_HEAD = `"${RAW_FIELD}":`;
const GLOB = /[*?[\]^\\]/;

/** `gym:1` of `gym:1:students`: the channel up to its second `:` (all of it without one). */
export function scopeOfChannel(channel: string): string {
  const first = channel.indexOf(':');
  const second = first < 0 ? -1 : channel.indexOf(':', first + 1);
  return second < 0 ? channel : channel.slice(0, second);
}

/** The shard channel of a scope: `{prefix}eventrail:{gym:1}`. */
export function shardChannel(prefix: string, scopeKey: string): string {
  return `${prefix}eventrail:{${scopeKey}}`;
}

/** `{"channel":"gym:1:students",`: what the sharded announce puts before the event's own fields. */
export function shardHead(channel: string): string {
  return `${HEAD}${JSON.stringify(channel)},`;
}

/** The payload to `SPUBLISH` for `payload` on `channel`. */
export function encodeShardPayload(channel: string, payload: string): string {
  // A JSON object (as every eventrail publisher writes) gets the channel as its first field;
  // anything else is carried as a string, and so is an object that may name a channel itself
  // (a reader taking the last of two keys would see that one).
  if (
    payload.length > 2 &&
    payload.startsWith('{"') &&
    payload.endsWith('}') &&
    !payload.startsWith(`{${RAW_HEAD}`) &&
    !payload.includes('"channel"')
  )
    return shardHead(channel) + payload.slice(1);
  return `${shardHead(channel)}${RAW_HEAD}${JSON.stringify(payload)}}`;
}

/** The index after the JSON string that starts at `start` (a `"`), or -1. */
function endOfString(text: string, start: number): number {
  if (text.charCodeAt(start) !== 34 /* " */) return -1;
  for (let i = start + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) i++;
    else if (c === 34) return i + 1;
  }
  return -1;
}

function parseString(token: string): string | undefined {
  try {
    const value: unknown = JSON.parse(token);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A shard message read back: the event's channel and its payload as it was published. */
export interface ShardMessage {
  readonly channel: string;
  readonly payload: string;
}

/**
 * Reads a shard payload: the channel it names and the payload as it was given to publish (the
 * channel field taken out again when it comes first, as eventrail writes it). Undefined when it
 * names no channel.
 */
export function decodeShardPayload(raw: string): ShardMessage | undefined {
  if (raw.startsWith(HEAD)) {
    const end = endOfString(raw, HEAD.length);
    const channel = end < 0 ? undefined : parseString(raw.slice(HEAD.length, end));
    if (channel !== undefined && raw.charCodeAt(end) === 44 /* , */) {
      const rest = raw.slice(end + 1);
      if (!rest.startsWith(RAW_HEAD)) return { channel, payload: `{${rest}` };
      const payload = parseString(rest.slice(RAW_HEAD.length, -1));
      if (payload !== undefined && rest.endsWith('}')) return { channel, payload };
    }
  }
  // Another program's JSON object with `channel` anywhere: delivered as it is.
  if (raw.charCodeAt(0) !== 123 /* { */) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const channel = (parsed as Record<string, unknown>).channel;
  return typeof channel === 'string' ? { channel, payload: raw } : undefined;
}

/** What one broker subscription (`gym:1:*`, or any literal `scope:id:` then a topic glob) listens to. */
export interface ShardTarget {
  /** The scope whose shard channel carries the pattern's channels. */
  readonly scopeKey: string;
  /** Whether a message of the scope on `channel` is for this subscription. */
  matches(channel: string): boolean;
}

/**
 * The shard target of a broker pattern.
 * @throws {@link EventrailError} `invalid-pattern` when the scope or scope id is not literal: a
 *   shard channel holds exactly one scope.
 */
export function shardTarget(pattern: string): ShardTarget {
  const scopeKey = scopeOfChannel(pattern);
  if (scopeKey === pattern || GLOB.test(scopeKey)) {
    throw new EventrailError(
      'invalid-pattern',
      `In the sharded channel mode a pattern needs a literal scope and scope id ({scope}:{scope_id}:{topic}), not ${JSON.stringify(pattern)}.`,
    );
  }
  const scopePrefix = `${scopeKey}:`;
  const topic = pattern.slice(scopePrefix.length);
  const matches =
    topic === '*'
      ? (channel: string) => channel.startsWith(scopePrefix)
      : GLOB.test(topic)
        ? (channel: string) => channel.startsWith(scopePrefix) && globMatch(pattern, channel)
        : (channel: string) => channel === pattern;
  return { scopeKey, matches };
}
