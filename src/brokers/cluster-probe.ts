/**
 * The liveness probe of a cluster subscriber: a shard channel in a slot of each master, which the
 * subscriber listens to, and a token published on each; a master whose token does not come back
 * in time is silent (its subscription receives nothing).
 */
import { randomBytes } from 'node:crypto';
import { ioDeadline } from '../util/io-deadline.js';
import { keySlot } from './cluster-slot.js';
import type { RedisPubSubListener } from './redis-modes.js';

/** What the probe needs of a node-redis cluster client. */
interface ProbedCluster {
  readonly masters: ReadonlyArray<{ readonly address: string }>;
  readonly slots: ReadonlyArray<{ readonly master: { readonly address: string } } | undefined>;
  withCommandOptions(options: { abortSignal: AbortSignal }): {
    sPublish(channel: string, message: string): Promise<unknown>;
  };
}

/** A subscriber the probe listens on. */
interface ProbeSubscriber {
  sSubscribe(channel: string, listener: RedisPubSubListener): Promise<unknown>;
}

export class ClusterProbe {
  /** Each master's probe channel: a shard channel in one of its slots. */
  readonly #channels = new Map<string, string>();
  /** The probe channels each subscriber listens to. */
  readonly #subscribed = new WeakMap<ProbeSubscriber, Set<string>>();
  /** The tokens of the probe under way, each resolving its master. */
  #waiting: Map<string, () => void> | undefined;
  #silent: string[] = [];
  readonly #onToken: RedisPubSubListener = (token) => this.#waiting?.get(token)?.();

  /** @param id this broker's own part of the probe channels' names. */
  constructor(
    private readonly cluster: ProbedCluster,
    private readonly id: string,
  ) {}

  /** The masters (`host:port`) whose subscription missed the last probe. */
  get silent(): readonly string[] {
    return this.#silent;
  }

  #masterOf(channel: string): string | undefined {
    return this.cluster.slots[keySlot(channel)]?.master.address;
  }

  /** The probe channel of `master`, subscribed on `subscriber`. */
  async #channel(master: string, subscriber: ProbeSubscriber): Promise<string> {
    let channel = this.#channels.get(master);
    if (channel === undefined || this.#masterOf(channel) !== master) {
      channel = undefined;
      for (let n = 0; n < 100_000 && channel === undefined; n++) {
        const candidate = `eventrail:probe:{${this.id}.${n}}`;
        if (this.#masterOf(candidate) === master) channel = candidate;
      }
      if (channel === undefined) throw new Error(`no probe channel found for ${master}`);
      this.#channels.set(master, channel);
    }
    let subscribed = this.#subscribed.get(subscriber);
    if (subscribed === undefined) {
      subscribed = new Set();
      this.#subscribed.set(subscriber, subscribed);
    }
    if (!subscribed.has(channel)) {
      await subscriber.sSubscribe(channel, this.#onToken);
      subscribed.add(channel);
    }
    return channel;
  }

  /** Subscribes `subscriber` to the probe channel of every master. */
  async listen(subscriber: ProbeSubscriber): Promise<void> {
    for (const { address } of this.cluster.masters) await this.#channel(address, subscriber);
  }

  /** A fresh subscriber replaced the one that was silent: none is known silent now. */
  replaced(): void {
    this.#silent = [];
  }

  /** True when `subscriber` received the token of every master within `timeoutMs`. */
  async run(subscriber: ProbeSubscriber, timeoutMs: number): Promise<boolean> {
    const tokens = new Map<string, () => void>();
    const pending = new Map<string, string>();
    let cancel = () => {};
    const all = new Promise<void>((resolve) => {
      // Not a plain timer: a loop busy past the deadline must read the probe's messages first.
      cancel = ioDeadline(timeoutMs, resolve);
      for (const { address } of this.cluster.masters) {
        const token = `${address} ${randomBytes(4).toString('hex')}`;
        pending.set(token, address);
        tokens.set(token, () => {
          pending.delete(token);
          if (pending.size === 0) resolve();
        });
      }
    });
    this.#waiting = tokens;
    try {
      for (const [token, master] of pending) {
        // Not awaited: a subscribe or a publish stuck on a dead connection only leaves its
        // master silent when the time is up.
        this.#channel(master, subscriber)
          .then((channel) =>
            this.cluster
              .withCommandOptions({ abortSignal: AbortSignal.timeout(timeoutMs) })
              .sPublish(channel, token),
          )
          .catch(() => undefined);
      }
      await all;
      this.#silent = [...pending.values()];
      return this.#silent.length === 0;
    } finally {
      cancel();
      this.#waiting = undefined;
    }
  }
}
