import { EventrailError } from './errors.js';
import { parseChannel } from './naming.js';
import { encodePayload } from './payload.js';
import type { Broker, Publisher } from './types.js';

/** Options of {@link createPublisher}. @public */
export interface PublisherOptions {
  /** The broker to publish through (the same kind the servers subscribe with). */
  broker: Broker;
}

/**
 * A publisher without a server, for a worker process that only emits events. `server.publisher`
 * is the same thing bound to the server's broker.
 *
 * @example
 * ```ts
 * const publisher = createPublisher({ broker: createRedisBroker({ url: process.env.REDIS_URL }) });
 * await publisher.publishEvent('gym:1:students', { eventType: 'students.changed', data: { id: 123 } });
 * ```
 * @public
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const broker = options?.broker;
  if (!broker || typeof broker.publish !== 'function') {
    throw new EventrailError(
      'invalid-option',
      'createPublisher needs { broker }, e.g. createMemoryBroker().',
    );
  }
  const publisher: Publisher = {
    async publishEvent(channel, event) {
      // Validate both before touching the broker: a refused publish reaches no one.
      const { scope, scopeId } = parseChannel(channel);
      const payload = encodePayload(event);
      // With a history the event is stored and announced in one step, so it can be replayed.
      if (broker.history) await broker.history.append(`${scope}:${scopeId}`, channel, payload);
      else await broker.publish(channel, payload);
    },
    publishType(channel, eventType) {
      return publisher.publishEvent(channel, { eventType });
    },
  };
  return publisher;
}
