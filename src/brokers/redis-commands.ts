/**
 * What the Redis broker sends on its connection: publishes and the history's commands, each
 * bounded by `publishTimeoutMs` (one shared timer, see deadlines.ts) and withdrawn from the
 * client's queue once it expired, so that a caller told it failed can rely on it.
 */
import { EventrailError } from '../errors.js';
import type { BrokerHistory, BrokerPresence } from '../types.js';
import { Deadlines } from './deadlines.js';
import { pageLimit } from './history-store.js';
import type { RedisCommands, RedisConnection } from './redis-connection.js';
import { createRedisHistory } from './redis-history.js';
import { publishIn } from './redis-modes.js';
import { boundedPresence, createRedisPresence } from './redis-presence.js';
import type { RedisSettings } from './redis-settings.js';

export class CommandSender {
  readonly deadlines: Deadlines;
  /** The history, when one is kept and the connection can send raw commands. */
  readonly history: BrokerHistory | undefined;
  /** Presence (see redis-presence.ts), when the connection can send raw commands. */
  readonly presence: BrokerPresence | undefined;
  /** The connection's commands bound to the current shared signal. */
  #bound: { signal: AbortSignal; commands: RedisCommands } | undefined;
  #closed = false;

  constructor(
    private readonly connection: RedisConnection,
    private readonly settings: RedisSettings,
  ) {
    this.deadlines = new Deadlines(
      settings.publishTimeoutMs,
      (what, ms) =>
        new EventrailError('broker-error', `Redis did not answer ${what} within ${ms} ms.`),
    );
    this.history = settings.history && connection.sendsCommands ? this.#history() : undefined;
    this.presence = connection.sendsCommands
      ? boundedPresence(
          createRedisPresence((args, key) => this.#send(args, key), settings.prefix),
          (what, run) => this.#bounded(what, run),
        )
      : undefined;
  }

  /** Publishes `payload` on `channel` in the configured modes (the history publishes itself). */
  publish(channel: string, payload: string): Promise<unknown> {
    const { publishModes, prefix } = this.settings;
    return this.#bounded(`PUBLISH ${channel}`, () =>
      publishIn(this.#commands(), publishModes, prefix, channel, payload),
    );
  }

  /** Nothing is sent from now on. */
  close(): void {
    this.#closed = true;
  }

  /** The commands, withdrawn from the client's queue once they time out. */
  #commands(): RedisCommands {
    const signal = this.deadlines.signal();
    if (this.#bound?.signal !== signal)
      this.#bound = { signal, commands: this.connection.commands(signal) };
    return this.#bound.commands;
  }

  /** One raw command, to the node that holds `key` on a cluster (unbounded: callers bound it). */
  #send(args: string[], key?: string): Promise<unknown> {
    const commands = this.#commands();
    if (!commands.sendCommand) throw new Error('the Redis client has no sendCommand');
    return commands.sendCommand(args, key);
  }

  async #bounded<T>(what: string, run: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new EventrailError('broker-closed', 'The Redis broker is closed.');
    // Told it failed, the caller must be able to rely on it: a command whose turn comes only
    // after that (the connection was not ready yet) is never sent.
    let expired = false;
    const start = (): Promise<T> =>
      expired ? Promise.reject(new Error(`${what} expired before it was sent`)) : run();
    try {
      return await this.deadlines.bound(this.connection.ready.then(start), what, () => {
        expired = true;
      });
    } catch (err) {
      // A deadline's own error as it is; anything else (Redis's, a refused set-up) as its cause.
      if (err instanceof EventrailError && err.code === 'broker-error') throw err;
      throw new EventrailError('broker-error', `Redis refused ${what}.`, { cause: err });
    }
  }

  #history(): BrokerHistory {
    const { historyKeyPrefix, prefix, publishModes, code, limits } = this.settings;
    const store = createRedisHistory(
      { sendCommand: (args, key) => this.#send(args, key) },
      { keyPrefix: historyKeyPrefix, channelPrefix: prefix, publishModes, code, ...limits },
    );
    return {
      append: (scopeKey, channel, payload) =>
        this.#bounded(`history append on ${channel}`, () =>
          store.append(scopeKey, channel, payload),
        ),
      position: (scopeKey) =>
        this.#bounded(`history position of ${scopeKey}`, () => store.position(scopeKey)),
      readSince: async (scopeKey, afterId, limit, epoch) => {
        // A bad limit is the caller's error, not Redis's: checked before anything is sent.
        pageLimit(limit);
        return this.#bounded(`history read of ${scopeKey}`, () =>
          store.readSince(scopeKey, afterId, limit, epoch),
        );
      },
    };
  }
}
