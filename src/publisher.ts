import { EventrailError } from './errors.js';
import { publishRevocation } from './fleet/control.js';
import { LIMIT_DEFAULTS } from './limits.js';
import {
  assertTracing,
  type EventTracing,
  type PublishTraceInfo,
  type TraceCarrier,
  withCarrier,
} from './tracing.js';
import type { Broker, PublishableEvent, Publisher } from './types.js';
import { wholeNumber } from './util/whole-number.js';
import { parseChannel } from './wire/naming.js';
import { encodeEvent } from './wire/payload.js';

/** Options of {@link createPublisher}. @public */
export interface PublisherOptions {
  /** The broker to publish through (the same kind the servers subscribe with). */
  broker: Broker;
  /** The largest payload to publish, in bytes of JSON. @defaultValue `65536` */
  maxPayloadBytes?: number;
  /**
   * Traces each publish and propagates its context to the servers that deliver it, e.g.
   * `openTelemetry()` from `eventrail/opentelemetry`. @defaultValue none
   */
  tracing?: EventTracing | undefined;
}

/**
 * A publisher of its own, as {@link createPublisher} makes it: it owns the broker it was given.
 * @public
 */
export interface StandalonePublisher extends Publisher {
  /**
   * Closes the broker the publisher was given (its Redis connections), so that a worker's process
   * can exit. Publishes still in flight settle first; later ones reject with `broker-closed`.
   * Safe to call twice. Do not close a publisher whose broker a server still uses: close the
   * server, then the broker, instead.
   */
  close(): Promise<void>;
}

/**
 * A publisher without a server, for a worker process that only emits events. It owns its broker:
 * `close()` closes it. `server.publisher` is the same thing bound to the server's broker (and is
 * closed with it).
 *
 * @example
 * ```ts
 * const publisher = createPublisher({ broker: createRedisBroker({ url: process.env.REDIS_URL }) });
 * await publisher.publishEvent('gym:1:students', { eventType: 'students.changed', data: { id: 123 } });
 * await publisher.close(); // closes the broker: the process can exit
 * ```
 * @public
 */
export function createPublisher(options: PublisherOptions): StandalonePublisher {
  const broker = options?.broker;
  if (!broker || typeof broker.publish !== 'function') {
    throw new EventrailError(
      'invalid-option',
      'createPublisher needs { broker }, e.g. createMemoryBroker().',
    );
  }
  const maxPayloadBytes = wholeNumber(
    'maxPayloadBytes',
    options.maxPayloadBytes,
    LIMIT_DEFAULTS.maxPayloadBytes,
    64,
  );
  const tracing = options.tracing;
  assertTracing(tracing);
  const inFlight = new Set<Promise<void>>();
  let closed: Promise<void> | undefined;
  const publisher: StandalonePublisher = {
    publishEvent(channel, event) {
      if (closed) {
        return Promise.reject(new EventrailError('broker-closed', 'The publisher is closed.'));
      }
      const published = publish(channel, event);
      inFlight.add(published);
      const settled = (): void => void inFlight.delete(published);
      published.then(settled, settled);
      return published;
    },
    publishType(channel, eventType) {
      return publisher.publishEvent(channel, { eventType });
    },
    revoke(target) {
      if (closed) {
        return Promise.reject(new EventrailError('broker-closed', 'The publisher is closed.'));
      }
      return publishRevocation(broker, target);
    },
    close() {
      closed ??= Promise.allSettled(inFlight).then(() => broker.close());
      return closed;
    },
  };
  async function publish(channel: string, event: PublishableEvent): Promise<void> {
    // Validate both before touching the broker: a refused publish reaches no one.
    const { scope, scopeId, topic } = parseChannel(channel);
    const { eventType, payload } = encodeEvent(event);
    const payloadBytes = Buffer.byteLength(payload);
    if (payloadBytes > maxPayloadBytes) {
      throw new EventrailError(
        'payload-too-large',
        `The event is ${payloadBytes} bytes of JSON, over maxPayloadBytes (${maxPayloadBytes}). Send an id and let the page fetch the rest.`,
      );
    }
    // With a history the event is stored and announced in one step, so it can be replayed.
    const send = async (carrier?: TraceCarrier): Promise<void> => {
      const traced = withCarrier(payload, carrier);
      if (broker.history) await broker.history.append(`${scope}:${scopeId}`, channel, traced);
      else await broker.publish(channel, traced);
    };
    if (tracing === undefined) return send();
    return traced(tracing, { channel, scope, topic, eventType, payloadBytes }, send);
  }
  return publisher;
}

/**
 * Publishes through the tracer. A tracer that throws, or never calls `send`, must not cost the
 * event (it is then sent without a trace context) nor fail a publish that succeeded: the broker's
 * outcome alone decides how the publish settles.
 */
async function traced(
  tracing: EventTracing,
  info: PublishTraceInfo,
  send: (carrier?: TraceCarrier) => Promise<void>,
): Promise<void> {
  let sent: Promise<void> | undefined;
  try {
    await tracing.publish(info, (carrier) => {
      sent = send(carrier);
      sent.catch(() => {}); // settled below; a tracer that drops it must not leave it unhandled
      return sent;
    });
  } catch {
    // the tracer's own failure, or the broker's, which `sent` reports again below
  }
  return sent ?? send();
}
