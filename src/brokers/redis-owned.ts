import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';

const create = (url: string) => createClient({ url });
type Client = ReturnType<typeof create>;
const duplicate = (client: Client) => client.duplicate();
type Subscriber = ReturnType<typeof duplicate>;

/** A subscriber's Pub/Sub listener. */
type Listener = (message: string, channel: string) => void;

/** What to put back on a fresh subscriber connection. */
export interface Resubscription {
  readonly pattern: string;
  readonly listener: Listener;
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

async function closeClient(client: Client | Subscriber, timeoutMs: number): Promise<void> {
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
}

/** Connects a publisher and a subscriber to `url`. */
export function connectOwned(url: string, events: OwnedEvents): OwnedClients {
  const publisher = create(url);
  const probeChannel = `eventrail:probe:${randomBytes(8).toString('hex')}`;
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
      if (!closing) events.failure(err instanceof Error ? err : new Error(String(err)));
    });
    client.on('ready', () => events.up());
    return client;
  };
  watch(publisher);
  let subscriber = watch(duplicate(publisher));
  const ready = Promise.all([publisher.connect(), subscriber.connect()]).then(async () => {
    await subscriber.subscribe(probeChannel, onProbe);
    subscriber.on('ready', events.gap);
  });
  // Callers await `ready` themselves; this only keeps a failed connect from being unhandled (the
  // failures themselves were reported by the 'error' listeners).
  ready.catch(() => {});
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
        await fresh.subscribe(probeChannel, onProbe);
        for (const { pattern, listener } of patterns) await fresh.pSubscribe(pattern, listener);
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
        const sent = publisher
          .withAbortSignal(AbortSignal.timeout(timeoutMs))
          .publish(probeChannel, token);
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
