/**
 * The two channel modes of the Redis broker as data: for each mode, the node-redis commands that
 * subscribe, unsubscribe and publish, where a subscription listens, how a Redis message becomes a
 * {@link BrokerMessage}, and what a publish sends. node-redis's own PubSub keys its listeners by
 * type the same way; nothing outside this table asks which mode it is in.
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

/** The publish commands of a publisher client; `sPublish` only for publishing sharded. */
export interface PublishCommands {
  publish(channel: string, message: string): Promise<unknown>;
  /** node-redis's `SPUBLISH` (Redis >= 7), for publishing in the sharded mode. */
  sPublish?(channel: string, message: string): Promise<unknown>;
}

/** What one broker subscription listens to in Redis, and how it reads what arrives. */
export interface Listening {
  readonly mode: ChannelMode;
  /** The glob (`PSUBSCRIBE`) or the shard channel (`SSUBSCRIBE`), prefix included. */
  readonly name: string;
  /** The message for the subscription, or undefined when it is not for it. */
  read(payload: string, redisChannel: string): BrokerMessage | undefined;
}

/** One channel mode: its commands and its wire. */
interface ModeSpec {
  readonly subscribe: 'pSubscribe' | 'sSubscribe';
  readonly unsubscribe: 'pUnsubscribe' | 'sUnsubscribe';
  readonly publish: 'publish' | 'sPublish';
  /** What a subscription to `glob` (`gym:1:*`, unprefixed) listens to. */
  listening(prefix: string, glob: string, onDropped: (error: EventrailError) => void): Listening;
  /** The Redis channel and message a publish of `payload` on `channel` sends. */
  outgoing(prefix: string, channel: string, payload: string): [string, string];
}

function message(channel: string, payload: string): BrokerMessage {
  const announced = announcedId(payload);
  return announced === undefined
    ? { channel, payload }
    : { channel, payload, id: announced.id, epoch: announced.epoch };
}

/** The commands and wire of each channel mode. */
export const CHANNEL_MODES: Readonly<Record<ChannelMode, ModeSpec>> = {
  pattern: {
    subscribe: 'pSubscribe',
    unsubscribe: 'pUnsubscribe',
    publish: 'publish',
    listening: (prefix, glob) => ({
      mode: 'pattern',
      name: prefix + glob,
      read: (payload, redisChannel) => message(redisChannel.slice(prefix.length), payload),
    }),
    outgoing: (prefix, channel, payload) => [prefix + channel, payload],
  },
  sharded: {
    subscribe: 'sSubscribe',
    unsubscribe: 'sUnsubscribe',
    publish: 'sPublish',
    // The shard channel of the glob's scope; the channel each payload names is matched here.
    listening(prefix, glob, onDropped) {
      const target = shardTarget(glob);
      const name = shardChannel(prefix, target.scopeKey);
      return {
        mode: 'sharded',
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
    },
    outgoing: (prefix, channel, payload) => [
      shardChannel(prefix, scopeOfChannel(channel)),
      encodeShardPayload(channel, payload),
    ],
  },
};

/**
 * What a broker subscription to `glob` (`gym:1:*`) listens to in `mode`.
 * @throws {@link EventrailError} `invalid-pattern` in the sharded mode when the scope is not literal.
 */
export function listening(
  mode: ChannelMode,
  prefix: string,
  glob: string,
  onDropped: (error: EventrailError) => void,
): Listening {
  return CHANNEL_MODES[mode].listening(prefix, glob, onDropped);
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

/** node-redis's command `name` on `client`, checked to exist. */
function pubSubCommand(
  client: PubSubClient,
  name: ModeSpec['subscribe'] | ModeSpec['unsubscribe'],
): (channel: string, listener: RedisPubSubListener) => Promise<unknown> {
  const command = client[name];
  if (command === undefined) shardedSubscriber(client);
  return (command as NonNullable<typeof command>).bind(client);
}

/** Subscribes `listener` to what `l` listens to. */
export const listen = (client: PubSubClient, l: Listening, listener: RedisPubSubListener) =>
  pubSubCommand(client, CHANNEL_MODES[l.mode].subscribe)(l.name, listener);

/** Takes `listener` off what `l` listens to. */
export const unlisten = (client: PubSubClient, l: Listening, listener: RedisPubSubListener) =>
  pubSubCommand(client, CHANNEL_MODES[l.mode].unsubscribe)(l.name, listener);

/** Publishes `payload` on `channel` in every mode of `modes` (without a history). */
export function publishIn(
  client: PublishCommands,
  modes: readonly ChannelMode[],
  prefix: string,
  channel: string,
  payload: string,
): Promise<unknown> {
  const one = (mode: ChannelMode): Promise<unknown> => {
    const spec = CHANNEL_MODES[mode];
    const command = client[spec.publish];
    if (command === undefined) throw new Error(`the Redis client has no ${spec.publish}`);
    return command.apply(client, spec.outgoing(prefix, channel, payload));
  };
  return modes.length === 1 ? one(modes[0] as ChannelMode) : Promise.all(modes.map(one));
}
