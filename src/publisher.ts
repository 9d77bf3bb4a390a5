import { EventrailError } from './errors.js';
import { LIMIT_DEFAULTS } from './limits.js';
import { parseChannel } from './naming.js';
import { encodePayload } from './payload.js';
import type { Broker, Publisher } from './types.js';

/** Options of {@link createPublisher}. @public */
export interface PublisherOptions {
  /** The broker to publish through (the same kind the servers subscribe with). */
  broker: Broker;
  /** The largest payload to publish, in bytes of JSON. @defaultValue `65536` */
  maxPayloadBytes?: number;
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
  const maxPayloadBytes = options.maxPayloadBytes ?? LIMIT_DEFAULTS.maxPayloadBytes;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 64) {
    throw new EventrailError('invalid-option', 'maxPayloadBytes must be a whole number >= 64.');
  }
  const publisher: Publisher = {
    async publishEvent(channel, event) {
      // Validate both before touching the broker: a refused publish reaches no one.
      const { scope, scopeId } = parseChannel(channel);
      const payload = encodePayload(event);
      const bytes = Buffer.byteLength(payload);
      if (bytes > maxPayloadBytes) {
        throw new EventrailError(
          'payload-too-large',
          `The event is ${bytes} bytes of JSON, over maxPayloadBytes (${maxPayloadBytes}). Send an id and let the page fetch the rest.`,
        );
      }
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
