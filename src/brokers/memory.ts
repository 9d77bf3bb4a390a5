import { EventrailError } from '../errors.js';
import type { Broker, BrokerMessage, BrokerSubscription } from '../types.js';
import { toError } from '../util/to-error.js';
import { globMatch } from './glob.js';
import { createMemoryHistory, type HistoryLimits, historyLimits } from './history-store.js';
import { createMemoryPresence } from './memory-presence.js';

type Handler = (message: BrokerMessage) => void;

/**
 * A pattern that is a literal (printable ASCII, no glob character) prefix ending in `:`, then
 * `*`: every hub's (`gym:1:*`). It matches exactly the channels that start with the prefix, so
 * it is found by a lookup per `:` of the channel instead of a glob match per pattern.
 */
const PREFIX_PATTERN = /^[\x20-\x29\x2b-\x3e\x40-\x5a\x5e-\x7e]*:\*$/;

/** Options of {@link createMemoryBroker}. @public */
export interface MemoryBrokerOptions extends HistoryLimits {
  /** Keep a per-scope history so that clients can resume after a reconnect. @defaultValue `true` */
  history?: boolean;
  /**
   * Called when a subscriber's handler throws. The other subscribers still receive the message.
   */
  onError?: (error: Error) => void;
}

/**
 * A broker inside one process: the embedded default for development, tests and single-instance
 * deployments. Messages are delivered asynchronously and in publish order, as Redis would.
 *
 * @example
 * ```ts
 * import { createMemoryBroker } from 'eventrail/memory';
 * const broker = createMemoryBroker();
 * ```
 * @public
 */
export function createMemoryBroker(given: MemoryBrokerOptions = {}): Broker {
  const options = given ?? {};
  /** Every other pattern, matched by glob. */
  const patterns = new Map<string, Set<Handler>>();
  /** Prefix patterns ({@link PREFIX_PATTERN}) by their pattern. */
  const prefixes = new Map<string, Set<Handler>>();
  const tableOf = (pattern: string) => (PREFIX_PATTERN.test(pattern) ? prefixes : patterns);
  const queue: BrokerMessage[] = [];
  let flushing = false;
  let closed = false;

  function call(handlers: Set<Handler>, message: BrokerMessage): void {
    for (const handler of handlers) {
      try {
        handler(message);
      } catch (err) {
        options.onError?.(toError(err));
      }
    }
  }

  function deliver(message: BrokerMessage): void {
    const { channel } = message;
    if (prefixes.size > 0) {
      // Each `:` ends a prefix a pattern may have.
      for (let i = channel.indexOf(':'); i >= 0; ) {
        const handlers = prefixes.get(`${channel.slice(0, i + 1)}*`);
        if (handlers) call(handlers, message);
        i = channel.indexOf(':', i + 1);
      }
    }
    for (const [pattern, handlers] of patterns) {
      if (globMatch(pattern, channel)) call(handlers, message);
    }
  }

  function flush(): void {
    // Drain in order; messages published by handlers during the flush join the same queue.
    for (let i = 0; i < queue.length; i++) deliver(queue[i] as BrokerMessage);
    queue.length = 0;
    flushing = false;
  }

  function assertOpen(): void {
    if (closed) throw new EventrailError('broker-closed', 'The memory broker is closed.');
  }

  function enqueue(message: BrokerMessage): void {
    queue.push(message);
    if (!flushing) {
      flushing = true;
      queueMicrotask(flush);
    }
  }

  const history =
    options.history === false
      ? undefined
      : createMemoryHistory(historyLimits(options), (channel, payload, id, epoch) =>
          enqueue({ channel, payload, id, epoch }),
        );

  return {
    async subscribe(pattern, onMessage): Promise<BrokerSubscription> {
      assertOpen();
      const table = tableOf(pattern);
      let handlers = table.get(pattern);
      if (handlers === undefined) {
        handlers = new Set();
        table.set(pattern, handlers);
      }
      // Wrap so that the same function subscribed twice yields two independent subscriptions.
      const handler: Handler = (message) => onMessage(message);
      handlers.add(handler);
      return {
        async unsubscribe() {
          const set = table.get(pattern);
          if (set?.delete(handler) && set.size === 0) table.delete(pattern);
        },
      };
    },
    async publish(channel, payload) {
      assertOpen();
      enqueue({ channel, payload });
    },
    history: history && {
      append: async (scopeKey, channel, payload) => {
        assertOpen();
        return history.append(scopeKey, channel, payload);
      },
      position: async (scopeKey) => {
        assertOpen();
        return history.position(scopeKey);
      },
      readSince: async (scopeKey, afterId, limit, epoch) => {
        assertOpen();
        return history.readSince(scopeKey, afterId, limit, epoch);
      },
    },
    presence: createMemoryPresence(),
    state: () => (closed ? 'closed' : 'ready'),
    async close() {
      closed = true;
      patterns.clear();
      prefixes.clear();
    },
  };
}

export type { HistoryLimits } from './history-store.js';
