import { EventrailError } from '../errors.js';
import { globMatch } from '../glob.js';
import { createMemoryHistory, HISTORY_DEFAULTS, type HistoryLimits } from '../history-store.js';
import type { Broker, BrokerMessage, BrokerSubscription } from '../types.js';

type Handler = (message: BrokerMessage) => void;

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
export function createMemoryBroker(options: MemoryBrokerOptions = {}): Broker {
  const patterns = new Map<string, Set<Handler>>();
  const queue: BrokerMessage[] = [];
  let flushing = false;
  let closed = false;

  function deliver(message: BrokerMessage): void {
    for (const [pattern, handlers] of patterns) {
      if (!globMatch(pattern, message.channel)) continue;
      for (const handler of handlers) {
        try {
          handler(message);
        } catch (err) {
          options.onError?.(err instanceof Error ? err : new Error(String(err)));
        }
      }
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
      : createMemoryHistory(
          {
            historySize: options.historySize ?? HISTORY_DEFAULTS.historySize,
            historyTtlMs: options.historyTtlMs ?? HISTORY_DEFAULTS.historyTtlMs,
          },
          (channel, payload, id) => enqueue({ channel, payload, id }),
        );

  return {
    async subscribe(pattern, onMessage): Promise<BrokerSubscription> {
      assertOpen();
      let handlers = patterns.get(pattern);
      if (handlers === undefined) {
        handlers = new Set();
        patterns.set(pattern, handlers);
      }
      // Wrap so that the same function subscribed twice yields two independent subscriptions.
      const handler: Handler = (message) => onMessage(message);
      handlers.add(handler);
      return {
        async unsubscribe() {
          const set = patterns.get(pattern);
          if (set?.delete(handler) && set.size === 0) patterns.delete(pattern);
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
      readSince: async (scopeKey, afterId) => {
        assertOpen();
        return history.readSince(scopeKey, afterId);
      },
    },
    state: () => (closed ? 'closed' : 'ready'),
    async close() {
      closed = true;
      patterns.clear();
    },
  };
}
