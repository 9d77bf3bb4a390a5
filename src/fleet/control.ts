/**
 * The fleet's control messages: what one process tells every instance that has streams in a
 * scope (close some of them; the scope's presence changed).
 *
 * A control message rides the scope's own channel, `{scope}:{scope_id}:eventrail:control`: the
 * instances with streams in the scope are exactly the ones subscribed to it (`gym:1:*`, or the
 * scope's shard channel in the sharded mode, on the scope's own shard of a Redis Cluster), so it
 * costs one publish and reaches no other instance. The channel has four parts: a publisher
 * refuses it (`parseChannel`) and a hub never delivers it (`belongsTo`), so no browser can cause
 * one nor receive one. The server takes it off before delivery.
 */
import { EventrailError } from '../errors.js';
import type { Broker, BrokerMessage, RevocationTarget } from '../types.js';
import { describeValue, isValidPart } from '../wire/naming.js';

/** The topic part after the scope key: two parts, so no event channel can be it. */
const CONTROL_SUFFIX = ':eventrail:control';

/** A control message read back. */
export type ControlMessage =
  | {
      readonly op: 'revoke';
      readonly userId?: string;
      readonly key?: string;
      readonly connectionId?: string;
    }
  | { readonly op: 'presence'; readonly from: string };

/** The control channel of a scope key. */
export function controlChannel(scopeKey: string): string {
  return scopeKey + CONTROL_SUFFIX;
}

/** Whether a broker message of hub `scopeKey` is that scope's control message. */
export function isControl(scopeKey: string, message: BrokerMessage): boolean {
  const { channel } = message;
  return (
    channel.length === scopeKey.length + CONTROL_SUFFIX.length &&
    channel.endsWith(CONTROL_SUFFIX) &&
    channel.startsWith(scopeKey)
  );
}

/** Reads a control payload; undefined when it is not one (it is then ignored). */
export function readControl(payload: string): ControlMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const fields = value as Record<string, unknown>;
  const text = (name: string): string | undefined =>
    typeof fields[name] === 'string' ? (fields[name] as string) : undefined;
  if (fields.op === 'revoke') {
    return {
      op: 'revoke',
      userId: text('userId'),
      key: text('key'),
      connectionId: text('connectionId'),
    };
  }
  if (fields.op === 'presence') {
    const from = text('from');
    return from === undefined ? undefined : { op: 'presence', from };
  }
  return undefined;
}

/** The scope key `gym:1` of a target, checked. */
export function targetScope(scope: unknown): string {
  const parts = typeof scope === 'string' ? scope.split(':') : [];
  if (parts.length !== 2 || !parts.every(isValidPart)) {
    throw new EventrailError(
      'invalid-channel',
      `A revocation names its scope as {scope}:{scope_id}, e.g. "gym:1", got ${describeValue(scope)}.`,
    );
  }
  return scope as string;
}

function optionalText(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'string' && value.length > 0 && value.length <= 1024) return value;
  throw new EventrailError(
    'invalid-data',
    `A revocation's ${name} must be a non-empty string (at most 1024 characters)${name === 'userId' ? ' or a number' : ''}, got ${describeValue(value)}.`,
  );
}

/**
 * Publishes a revocation on the target scope's control channel: one publish, whatever the
 * number of instances and streams.
 * @throws {@link EventrailError} `invalid-channel`, `invalid-data`, or the broker's own error.
 */
export async function publishRevocation(broker: Broker, target: RevocationTarget): Promise<void> {
  if (target === null || typeof target !== 'object') {
    throw new EventrailError(
      'invalid-data',
      'revoke needs { scope, userId?, key?, connectionId? }.',
    );
  }
  const scope = targetScope(target.scope);
  const message = {
    op: 'revoke',
    userId: optionalText('userId', target.userId),
    key: optionalText('key', target.key),
    connectionId: optionalText('connectionId', target.connectionId),
  };
  await broker.publish(controlChannel(scope), JSON.stringify(message));
}

/** Publishes that the presence of a scope changed (instance `from` wrote it). */
export function publishPresenceChange(
  broker: Broker,
  scopeKey: string,
  from: string,
): Promise<void> {
  return broker.publish(controlChannel(scopeKey), JSON.stringify({ op: 'presence', from }));
}
