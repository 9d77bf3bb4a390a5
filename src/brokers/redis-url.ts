/**
 * The broker's own connections to one Redis, made from a URL: a publisher and a subscriber
 * (replaced as a whole when the probe finds it deaf), both closed by the broker.
 */
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { EventrailError } from '../errors.js';
import { ioDeadline } from '../util/io-deadline.js';
import { toError } from '../util/to-error.js';
import {
  assertShardedRedis,
  bindSignal,
  type ConnectionEvents,
  closeClient,
  listenAll,
  type RedisConnection,
  replacementStep,
} from './redis-connection.js';
import { CHANNEL_MODES, type RedisPubSubListener } from './redis-modes.js';
import type { ChannelMode } from './redis-shard.js';

const create = (url: string) => createClient({ url });
type Client = ReturnType<typeof create>;
const duplicate = (client: Client) => client.duplicate();
type Subscriber = ReturnType<typeof duplicate>;

/** The probe's channel in `mode`: in the sharded mode a shard channel, the subscriptions' path. */
const probeChannelOf = (mode: ChannelMode, id: string): string =>
  `eventrail:probe:${mode === 'sharded' ? `{${id}}` : id}`;

/**
 * Connects a publisher and a subscriber to `url`; subscriptions and the probe listen in
 * `channels`; with `shards`, Redis is checked for sharded Pub/Sub (>= 7) at connect.
 */
export function connectUrl(
  url: string,
  channels: ChannelMode,
  shards: boolean,
  events: ConnectionEvents,
): RedisConnection {
  const publisher = create(url);
  const probeChannel = probeChannelOf(channels, randomBytes(8).toString('hex'));
  // The probe is a plain channel in the pattern mode: SUBSCRIBE, not a glob.
  const watchProbe = (client: Subscriber): Promise<unknown> =>
    channels === 'sharded'
      ? client.sSubscribe(probeChannel, onProbe)
      : client.subscribe(probeChannel, onProbe);
  let waiting: { token: string; resolve: () => void } | undefined;
  let closing = false;
  const replacing = new Set<Subscriber>();
  let tokens = 0;
  const onProbe: RedisPubSubListener = (message) => {
    if (waiting && message === waiting.token) waiting.resolve();
  };
  const watch = <C extends Client | Subscriber>(client: C): C => {
    // Without an 'error' listener node-redis would crash the process on a lost connection.
    client.on('error', (err: unknown) => {
      if (!closing) events.failure(toError(err));
    });
    client.on('ready', () => events.up());
    return client;
  };
  watch(publisher);
  let subscriber = watch(duplicate(publisher));
  const ready = Promise.all([publisher.connect(), subscriber.connect()]).then(async () => {
    if (shards) await assertShardedRedis((args) => publisher.sendCommand(args));
    await watchProbe(subscriber);
    subscriber.on('ready', events.gap);
  });
  // Callers await `ready` themselves. Connection failures were reported by the 'error' listeners;
  // a Redis that cannot serve this mode at all is reported here, once.
  ready.catch((err: unknown) => {
    if (err instanceof EventrailError && err.code === 'invalid-option') events.report(err);
  });
  const commands = (client: Client) => ({
    publish: (channel: string, message: string) => client.publish(channel, message),
    sPublish: (channel: string, message: string) => client.sPublish(channel, message),
    sendCommand: (args: string[]) => client.sendCommand(args),
  });

  return {
    ready,
    sendsCommands: true,
    commands: (signal) => commands(bindSignal<Client>(publisher, signal)),
    subscriber: () => subscriber,
    isReady: () => publisher.isReady && subscriber.isReady,
    silent: () => [],
    async replace({ subscriptions, signal }) {
      if (closing) return;
      const fresh = watch(duplicate(publisher));
      // Until it replaces the subscriber, close() must be able to find it (and drop it).
      replacing.add(fresh);
      try {
        await replacementStep(fresh.connect(), signal);
        await replacementStep(watchProbe(fresh), signal);
        await replacementStep(listenAll(fresh, subscriptions()), signal);
      } catch (err) {
        if (fresh.isOpen) fresh.destroy();
        throw err;
      } finally {
        replacing.delete(fresh);
      }
      if (closing) {
        fresh.destroy();
        return;
      }
      fresh.on('ready', events.gap);
      const old = subscriber;
      subscriber = fresh;
      old.destroy();
    },
    async probe(timeoutMs) {
      const token = String(++tokens);
      let cancel = () => {};
      // Not a plain timer: a loop busy past the deadline must read the probe's message first.
      const expired = new Promise<'expired'>((resolve) => {
        cancel = ioDeadline(timeoutMs, () => resolve('expired'));
      });
      const received = new Promise<true>((resolve) => {
        waiting = { token, resolve: () => resolve(true) };
      });
      try {
        // A command already written is not withdrawn by its signal: while Redis is paused the
        // publish may hang past the limit, so the limit is raced, not left to the signal.
        const client = publisher.withAbortSignal(AbortSignal.timeout(timeoutMs));
        const sent = client[CHANNEL_MODES[channels].publish](probeChannel, token);
        sent.catch(() => {});
        if ((await Promise.race([sent, expired])) === 'expired') {
          throw new Error(`the probe's PUBLISH was not answered within ${timeoutMs} ms`);
        }
        return (await Promise.race([received, expired])) === true;
      } finally {
        cancel();
        waiting = undefined;
      }
    },
    leave: async () => {},
    async close(_subscriptions, timeoutMs) {
      closing = true;
      for (const fresh of replacing) if (fresh.isOpen) fresh.destroy();
      await Promise.all([publisher, subscriber].map((client) => closeClient(client, timeoutMs)));
    },
  };
}
