/**
 * The broker over clients the caller passes: it publishes and subscribes with them, listens to
 * the subscriber's own reconnects, and leaves both open at close (only its listeners leave).
 * Their owner watches them: there is nothing to probe or replace.
 */
import { EventrailError } from '../errors.js';
import {
  assertShardedRedis,
  bindSignal,
  type ConnectionEvents,
  type RedisCommands,
  type RedisConnection,
} from './redis-connection.js';
import { shardedSubscriber, unlisten } from './redis-modes.js';
import type { RedisPublishClient, RedisSubscribeClient } from './redis-options.js';
import type { RedisSettings } from './redis-settings.js';

/**
 * The connection of `publisher` and `subscriber`, checked for the commands `settings` need.
 * @throws {@link EventrailError} `invalid-option` when a client lacks a command the modes need.
 */
export function givenClients(
  publisher: RedisPublishClient,
  subscriber: RedisSubscribeClient,
  settings: Pick<RedisSettings, 'channels' | 'publishModes' | 'shards' | 'history'>,
  events: ConnectionEvents,
): RedisConnection {
  const canPublishSharded = publisher.sPublish || (settings.history && publisher.sendCommand);
  if (settings.publishModes.includes('sharded') && !canPublishSharded) {
    throw new EventrailError(
      'invalid-option',
      'Announcing sharded needs a publisher with sPublish.',
    );
  }
  if (settings.channels === 'sharded') shardedSubscriber(subscriber);
  const send = publisher.sendCommand?.bind(publisher);
  const ready = settings.shards && send ? assertShardedRedis(send) : Promise.resolve();
  ready.catch(events.report);
  // After every (re)connect node-redis has resubscribed, but what was published while the
  // connection was down is gone.
  subscriber.on?.('ready', () => events.gap());
  const commands = (client: Pick<RedisPublishClient, 'publish' | 'sPublish' | 'sendCommand'>) => {
    const bound: RedisCommands = {
      publish: (channel, message) => client.publish(channel, message),
    };
    const { sPublish, sendCommand } = client;
    if (sPublish) bound.sPublish = (channel, message) => sPublish.call(client, channel, message);
    if (sendCommand) bound.sendCommand = (args) => sendCommand.call(client, args);
    return bound;
  };
  const leave: RedisConnection['leave'] = async ({ listening, listener }) => {
    await unlisten(subscriber, listening, listener);
  };
  return {
    ready,
    sendsCommands: send !== undefined,
    commands: (signal) => commands(bindSignal(publisher, signal)),
    subscriber: () => subscriber,
    isReady: () => subscriber.isReady !== false,
    silent: () => [],
    replace: async () => {},
    leave,
    async close(subscriptions) {
      await Promise.allSettled(subscriptions.map(leave));
    },
  };
}
