import { abortable } from './abortable.js';
import { EventrailError } from './errors.js';
import { parseStreamId } from './history.js';
import { Hub } from './hub.js';
import type { Broker, BrokerMessage, Principal } from './types.js';

/** What the registry tells the server about. */
export interface SubscriptionEvents<P extends Principal> {
  onMessage(hub: Hub<P>, message: BrokerMessage): void;
  /** The broker may have skipped messages of this hub. */
  onGap(hub: Hub<P>): void;
  onHubStarted(key: string): void;
  onHubStopped(key: string): void;
  onError(error: unknown): void;
}

/**
 * The reference-counted broker subscriptions of one server: one hub (and one broker
 * subscription) per scope, created when its first client arrives and dropped `idleTimeoutMs`
 * after its last client leaves.
 */
export class Subscriptions<P extends Principal = Principal> {
  private readonly hubs = new Map<string, Hub<P>>();
  private readonly starting = new Map<string, Promise<Hub<P>>>();

  constructor(
    private readonly broker: Broker,
    private readonly idleTimeoutMs: number,
    private readonly events: SubscriptionEvents<P>,
  ) {}

  /** Hubs with a live subscription. */
  get size(): number {
    return this.hubs.size;
  }

  /**
   * Takes a reference on the hub of `key` (`gym:1`), subscribing first if nobody holds it.
   * Resolves once events of the scope are flowing. Pair every successful call with `release`.
   * When `signal` aborts first (the caller stopped waiting for the broker), rejects with its
   * reason; the subscription goes on being made, and idles out like any that nobody holds.
   */
  async acquire(key: string, signal?: AbortSignal): Promise<Hub<P>> {
    const existing = this.hubs.get(key);
    if (existing !== undefined) return this.take(existing);
    let starting = this.starting.get(key);
    if (starting === undefined) {
      starting = this.start(key);
      this.starting.set(key, starting);
      // Whoever awaits gets the rejection; the map entry must go either way.
      starting.then(
        () => this.starting.delete(key),
        () => this.starting.delete(key),
      );
    }
    if (signal === undefined) return this.take(await starting);
    return abortable(
      starting,
      signal,
      (hub) => this.take(hub),
      (hub) => this.release(this.take(hub)),
    );
  }

  private take(hub: Hub<P>): Hub<P> {
    hub.refs++;
    clearTimeout(hub.idleTimer);
    hub.idleTimer = undefined;
    return hub;
  }

  /** Drops a reference; the last one starts the idle timer. */
  release(hub: Hub<P>): void {
    hub.refs--;
    if (hub.refs > 0 || this.hubs.get(hub.key) !== hub) return;
    if (this.idleTimeoutMs === 0) {
      this.stop(hub);
      return;
    }
    hub.idleTimer = setTimeout(() => this.stop(hub), this.idleTimeoutMs);
    // An idle subscription must not keep the process alive on its own.
    hub.idleTimer.unref();
  }

  /**
   * Unsubscribes everything at once (shutdown). Subscriptions still being made are not waited
   * for (while the broker is unreachable they may take any time): each is dropped when it is made.
   */
  async closeAll(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.hubs.values()].map((hub) => this.stop(hub)));
  }

  private closed = false;

  private async start(key: string): Promise<Hub<P>> {
    const hub = new Hub<P>(key);
    hub.subscription = await this.broker.subscribe(
      hub.pattern,
      (message) => this.events.onMessage(hub, message),
      () => this.events.onGap(hub),
    );
    if (this.closed) {
      await hub.subscription.unsubscribe().catch((err: unknown) => this.events.onError(err));
      throw new EventrailError('server-closed', `The server closed while subscribing to ${key}.`);
    }
    // Live from here on: the scope's newest position is where a recovery would start.
    const history = this.broker.history;
    if (history) {
      try {
        const position = parseStreamId(await history.position(key));
        // A live event may have arrived meanwhile; never move backwards.
        if (position) hub.advance(position);
      } catch (err) {
        this.events.onError(err);
      }
    }
    this.hubs.set(key, hub);
    this.events.onHubStarted(key);
    return hub;
  }

  private async stop(hub: Hub<P>): Promise<void> {
    clearTimeout(hub.idleTimer);
    hub.idleTimer = undefined;
    if (this.hubs.get(hub.key) !== hub) return;
    this.hubs.delete(hub.key);
    try {
      await hub.subscription?.unsubscribe();
    } catch (err) {
      this.events.onError(err);
    }
    this.events.onHubStopped(hub.key);
  }
}
