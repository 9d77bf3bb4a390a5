import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { EventrailError } from '../errors.js';
import { toError } from '../util/to-error.js';
import { assertShardedRedis, type Listening, listen } from './redis-channels.js';

const create = (url: string) => createClient({ url });
type Client = ReturnType<typeof create>;
const duplicate = (client: Client) => client.duplicate();
type Subscriber = ReturnType<typeof duplicate>;

/** A subscriber's Pub/Sub listener. */
type Listener = (message: string, channel: string) => void;

/** What to put back on a fresh subscriber connection. */
export interface Resubscription {
  readonly listening: Listening;
  readonly listener: Listener;
}

/** The channel mode of a broker's own connections. */
export interface OwnedMode {
  /** Subscriptions and the probe use shard channels. */
  readonly sharded: boolean;
  /** Check at connect that Redis has sharded Pub/Sub (>= 7). */
  readonly requireShards: boolean;
}

/** The two connections a broker made from a URL, with a subscriber that can be replaced. */
export interface OwnedClients {
  readonly publisher: Client;
  /** The current subscriber connection. */
  subscriber(): Subscriber;
  readonly ready: Promise<void>;
  /**
   * Replaces the subscriber with a fresh connection carrying `patterns` (and the probe), then
   * drops the old one. Resolves once the new one receives.
   */
  recycle(patterns: Iterable<Resubscription>): Promise<void>;
  /**
   * Publishes a token on this instance's probe channel and resolves true when the subscriber
   * receives it within `timeoutMs`; false when it does not (an open but dead subscription);
   * rejects when the publish itself fails (Redis unreachable: reconnecting is node-redis's job).
   */
  probe(timeoutMs: number): Promise<boolean>;
  close(closeTimeoutMs: number): Promise<void>;
}

/** What closing needs of a node-redis client or cluster. */
interface Closable {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  close(): Promise<unknown>;
  destroy(): void;
}

/** Closes `client` politely within `timeoutMs`, or destroys it. */
export async function closeClient(client: Closable, timeoutMs: number): Promise<void> {
  if (!client.isOpen) return;
  // close() waits for every queued command to be answered: while Redis is unreachable it would
  // never settle (a timed-out PUBLISH stays queued). Nothing to drain then: destroy.
  if (!client.isReady) {
    client.destroy();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    client.close().then(
      () => true,
      () => false,
    ),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (!drained) client.destroy();
}

/** What the owned connections tell the broker. */
export interface OwnedEvents {
  /** A connection failed (each reconnect attempt fails anew while Redis is away). */
  failure(error: Error): void;
  /** A connection is (again) ready: the broker checks whether all of them are. */
  up(): void;
  /** The subscriber is ready after a reconnect: messages may have been missed meanwhile. */
  gap(): void;
  /** The connections cannot serve this broker at all (e.g. no sharded Pub/Sub): said once. */
  unusable(error: Error): void;
}

/** Connects a publisher and a subscriber to `url`, in the channel mode `mode`. */
export function connectOwned(url: string, events: OwnedEvents, mode: OwnedMode): OwnedClients {
  const publisher = create(url);
  const probeId = randomBytes(8).toString('hex');
  // In the sharded mode the probe is a shard channel too: it checks the subscriptions' own path.
  const probeChannel = `eventrail:probe:${mode.sharded ? `{${probeId}}` : probeId}`;
  const watchProbe = (client: Subscriber): Promise<unknown> =>
    mode.sharded
      ? client.sSubscribe(probeChannel, onProbe)
      : client.subscribe(probeChannel, onProbe);
  let waiting: { token: string; resolve: () => void } | undefined;
  let closing = false;
  const replacing = new Set<Subscriber>();
  let tokens = 0;
  const onProbe: Listener = (message) => {
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
    if (mode.requireShards) await assertShardedRedis((args) => publisher.sendCommand(args));
    await watchProbe(subscriber);
    subscriber.on('ready', events.gap);
  });
  // Callers await `ready` themselves. Connection failures were reported by the 'error' listeners;
  // a Redis that cannot serve this mode at all is reported here, once.
  ready.catch((err: unknown) => {
    if (err instanceof EventrailError && err.code === 'invalid-option') events.unusable(err);
  });
  return {
    publisher,
    subscriber: () => subscriber,
    ready,
    async recycle(patterns) {
      if (closing) return;
      const fresh = watch(duplicate(publisher));
      // Until it replaces the subscriber, close() must be able to find it (and drop it).
      replacing.add(fresh);
      try {
        await fresh.connect();
        await watchProbe(fresh);
        for (const { listening, listener } of patterns) await listen(fresh, listening, listener);
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
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), timeoutMs);
      });
      const received = new Promise<true>((resolve) => {
        waiting = { token, resolve: () => resolve(true) };
      });
      try {
        // A command already written is not withdrawn by its signal: while Redis is paused the
        // publish may hang past the limit, so the limit is raced, not left to the signal.
        const client = publisher.withAbortSignal(AbortSignal.timeout(timeoutMs));
        const sent = mode.sharded
          ? client.sPublish(probeChannel, token)
          : client.publish(probeChannel, token);
        sent.catch(() => {});
        if ((await Promise.race([sent, expired])) === 'expired') {
          throw new Error(`the probe's PUBLISH was not answered within ${timeoutMs} ms`);
        }
        return (await Promise.race([received, expired])) === true;
      } finally {
        clearTimeout(timer);
        waiting = undefined;
      }
    },
    async close(closeTimeoutMs) {
      closing = true;
      for (const fresh of replacing) if (fresh.isOpen) fresh.destroy();
      await Promise.all(
        [publisher, subscriber].map((client) => closeClient(client, closeTimeoutMs)),
      );
    },
  };
}
