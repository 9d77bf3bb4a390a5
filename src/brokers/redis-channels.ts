/**
 * The two channel modes of the Redis broker: what a subscription listens to, how a Redis message
 * becomes a {@link BrokerMessage}, and where a publish is announced.
 */
import { EventrailError } from '../errors.js';
import type { BrokerMessage } from '../types.js';
import { announcedId } from '../wire/announce.js';
import {
  type ChannelMode,
  decodeShardPayload,
  encodeShardPayload,
  scopeOfChannel,
  shardChannel,
  shardTarget,
} from './redis-shard.js';

/** A Pub/Sub listener as node-redis calls it. @public */
export type RedisPubSubListener = (message: string, channel: string) => void;

/** The Pub/Sub commands of a subscriber client; the sharded ones only for the sharded mode. */
export interface PubSubClient {
  pSubscribe(pattern: string, listener: RedisPubSubListener): Promise<unknown>;
  pUnsubscribe(pattern: string, listener: RedisPubSubListener): Promise<unknown>;
  /** node-redis's `SSUBSCRIBE` (Redis >= 7), for `channels: 'sharded'`. */
  sSubscribe?(channel: string, listener: RedisPubSubListener): Promise<unknown>;
  sUnsubscribe?(channel: string, listener: RedisPubSubListener): Promise<unknown>;
}

/** The publish commands of a publisher client; `sPublish` only for announcing sharded. */
export interface AnnounceClient {
  publish(channel: string, message: string): Promise<unknown>;
  /** node-redis's `SPUBLISH` (Redis >= 7), for announcing in the sharded mode. */
  sPublish?(channel: string, message: string): Promise<unknown>;
}

/** What one broker subscription listens to in Redis, and how it reads what arrives. */
export interface Listening {
  readonly sharded: boolean;
  /** The pattern (`PSUBSCRIBE`) or the shard channel (`SSUBSCRIBE`), prefix included. */
  readonly name: string;
  /** The message for the subscription, or undefined when it is not for it. */
  read(payload: string, redisChannel: string): BrokerMessage | undefined;
}

function message(channel: string, payload: string): BrokerMessage {
  const announced = announcedId(payload);
  return announced === undefined
    ? { channel, payload }
    : { channel, payload, id: announced.id, epoch: announced.epoch };
}

/**
 * What a broker subscription to `pattern` (`gym:1:*`) listens to in `mode`. In the sharded mode it
 * is the scope's shard channel, and the channel each payload names is matched here.
 * @throws {@link EventrailError} `invalid-pattern` in the sharded mode when the scope is not literal.
 */
export function listening(
  mode: ChannelMode,
  prefix: string,
  pattern: string,
  onDropped: (error: EventrailError) => void,
): Listening {
  if (mode === 'pattern') {
    return {
      sharded: false,
      name: prefix + pattern,
      read: (payload, redisChannel) => message(redisChannel.slice(prefix.length), payload),
    };
  }
  const target = shardTarget(pattern);
  const name = shardChannel(prefix, target.scopeKey);
  return {
    sharded: true,
    name,
    read(raw) {
      const decoded = decodeShardPayload(raw);
      if (decoded === undefined || scopeOfChannel(decoded.channel) !== target.scopeKey) {
        // Never delivered to another scope's subscriptions: the shard channel decides the scope.
        onDropped(
          new EventrailError(
            'invalid-channel',
            `A message on ${name} names no channel of ${target.scopeKey}: dropped.`,
          ),
        );
        return undefined;
      }
      return target.matches(decoded.channel)
        ? message(decoded.channel, decoded.payload)
        : undefined;
    },
  };
}

/**
 * `client`, checked for the sharded commands.
 * @throws {@link EventrailError} `invalid-option` when it has not got them.
 */
export function shardedSubscriber(client: PubSubClient): Required<PubSubClient> {
  if (!client.sSubscribe || !client.sUnsubscribe) {
    throw new EventrailError(
      'invalid-option',
      "channels: 'sharded' needs a subscriber with sSubscribe and sUnsubscribe (node-redis v5+).",
    );
  }
  return client as Required<PubSubClient>;
}

type PubSubCommand = (name: string, listener: RedisPubSubListener) => Promise<unknown>;

/** node-redis's command that subscribes (or unsubscribes) what `l` listens to. */
function command(client: PubSubClient, l: Listening, subscribe: boolean): PubSubCommand {
  if (!l.sharded) return (subscribe ? client.pSubscribe : client.pUnsubscribe).bind(client);
  const s = shardedSubscriber(client);
  return (subscribe ? s.sSubscribe : s.sUnsubscribe).bind(s);
}

/** Subscribes `listener` to what `l` listens to. */
export const listen = (client: PubSubClient, l: Listening, listener: RedisPubSubListener) =>
  command(client, l, true)(l.name, listener);

/** Takes `listener` off what `l` listens to. */
export const unlisten = (client: PubSubClient, l: Listening, listener: RedisPubSubListener) =>
  command(client, l, false)(l.name, listener);

/** Publishes `payload` on `channel` in every mode of `modes` (without a history). */
export function announce(
  client: AnnounceClient,
  modes: readonly ChannelMode[],
  prefix: string,
  channel: string,
  payload: string,
): Promise<unknown> {
  const one = (mode: ChannelMode): Promise<unknown> => {
    if (mode === 'pattern') return client.publish(prefix + channel, payload);
    if (!client.sPublish) throw new Error('the Redis client has no sPublish');
    return client.sPublish(
      shardChannel(prefix, scopeOfChannel(channel)),
      encodeShardPayload(channel, payload),
    );
  };
  return modes.length === 1 ? one(modes[0] as ChannelMode) : Promise.all(modes.map(one));
}

/**
 * Checks a channel or key prefix: empty, or ending with `:`, without whitespace or glob
 * characters. Ending with `:` is what keeps two applications apart: a prefix that does not (`x`)
 * makes `x` + `gym:1:a` the channel `xgym:1:a` of an application without one.
 * @throws {@link EventrailError} `invalid-option`
 */
export function namespacePrefix(name: string, value: unknown): string {
  if (
    typeof value !== 'string' ||
    /[\s*?[\]^\\]/.test(value) ||
    (value !== '' && !value.endsWith(':'))
  ) {
    throw new EventrailError(
      'invalid-option',
      `${name} must be empty or end with ":", without whitespace or Redis glob characters (* ? [ ] ^ \\), e.g. "billing:".`,
    );
  }
  return value;
}

const MODES: readonly ChannelMode[] = ['pattern', 'sharded'];

/** The broker's channel options, checked. */
export interface ChannelOptions {
  readonly channels: ChannelMode;
  readonly announce: readonly ChannelMode[];
}

/**
 * Reads `channels` and `announce`.
 * @throws {@link EventrailError} `invalid-option`
 */
export function channelOptions(options: {
  channels?: ChannelMode | undefined;
  announce?: readonly ChannelMode[] | undefined;
}): ChannelOptions {
  const channels = options.channels ?? 'pattern';
  if (!MODES.includes(channels)) {
    throw new EventrailError('invalid-option', "channels must be 'pattern' or 'sharded'.");
  }
  const announce = options.announce ?? [channels];
  if (
    !Array.isArray(announce) ||
    announce.length === 0 ||
    !announce.every((mode) => MODES.includes(mode)) ||
    new Set(announce).size !== announce.length
  ) {
    throw new EventrailError(
      'invalid-option',
      "announce must list 'pattern', 'sharded' or both, each once (e.g. ['pattern', 'sharded'] during a migration).",
    );
  }
  return { channels, announce };
}

/** Whether the mode needs Redis >= 7. */
export function usesShards(options: ChannelOptions): boolean {
  return options.channels === 'sharded' || options.announce.includes('sharded');
}

const SHARD_COMMANDS = ['SSUBSCRIBE', 'SPUBLISH'] as const;

/**
 * Checks that the Redis behind `send` has sharded Pub/Sub: Redis >= 7, with neither command
 * renamed away. When Redis cannot tell (`COMMAND` refused), the commands themselves will fail.
 * @throws {@link EventrailError} `invalid-option` naming what is missing.
 */
export async function assertShardedRedis(
  send: (args: string[]) => Promise<unknown>,
): Promise<void> {
  let reply: unknown;
  try {
    reply = await send(['COMMAND', 'INFO', ...SHARD_COMMANDS]);
  } catch {
    return;
  }
  if (!Array.isArray(reply)) return;
  const entries: unknown[] = reply;
  const missing = SHARD_COMMANDS.filter((_, i) => entries[i] == null);
  if (missing.length > 0) {
    throw new EventrailError(
      'invalid-option',
      `The sharded channel mode needs Redis >= 7 with ${missing.join(' and ')}, which this Redis does not have. Use channels: 'pattern' (and announce: ['pattern']) with it.`,
    );
  }
}
