/**
 * OpenTelemetry tracing: `eventrail/opentelemetry`, built on `@opentelemetry/api` only (an
 * optional peer dependency; your SDK set-up decides where spans go, as with any instrumented
 * library).
 *
 * A publish gets a `publish {scope}` span (kind PRODUCER) under whatever span is active, and its
 * context travels with the event through the broker; every server that delivers the event live
 * opens a `deliver {scope}` span (kind CONSUMER) under it, so one trace shows the request that
 * changed something and each instance that told its browsers. Without a registered SDK every call
 * is a no-op and nothing is added to the payload.
 * @packageDocumentation
 */
import {
  type Attributes,
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { DeliverTraceInfo, EventTracing, PublishTraceInfo, TraceCarrier } from '../tracing.js';

/** Options of {@link openTelemetry}. @public */
export interface OpenTelemetryOptions {
  /** The tracer spans are made with. @defaultValue `trace.getTracer('eventrail')` (the global provider) */
  tracer?: Tracer;
  /** How the context is written into and read from events. @defaultValue the global propagator */
  propagator?: TextMapPropagator;
  /**
   * How a delivery span relates to the publish: `child` puts it in the publisher's trace; `link`
   * starts a trace per delivery that links to the publish (for very wide fan-out). @defaultValue `'child'`
   */
  deliverSpans?: 'child' | 'link';
}

/** The instrumentation scope name of eventrail's spans. @public */
export const TRACER_NAME = 'eventrail';

/**
 * Tracing for `createSseServer({ tracing })` and `createPublisher({ tracing })`. Pass the same
 * kind to the servers and to every publisher (a worker's too) so the context is carried across.
 *
 * @example
 * ```ts
 * import { openTelemetry } from 'eventrail/opentelemetry';
 * const tracing = openTelemetry();
 * const sse = createSseServer({ broker, resolver, router, tracing });
 * ```
 * @public
 */
export function openTelemetry(options: OpenTelemetryOptions = {}): EventTracing {
  const tracer = options.tracer ?? trace.getTracer(TRACER_NAME);
  const propagator = options.propagator;
  const linkOnly = options.deliverSpans === 'link';

  function inject(ctx: Context): TraceCarrier | undefined {
    const carrier: Record<string, string> = {};
    if (propagator) propagator.inject(ctx, carrier, defaultTextMapSetter);
    else propagation.inject(ctx, carrier);
    return Object.keys(carrier).length > 0 ? carrier : undefined;
  }

  function extract(carrier: TraceCarrier | undefined): Context {
    // Never the active context: at delivery it belongs to whatever set up the subscription.
    if (carrier === undefined) return ROOT_CONTEXT;
    return propagator
      ? propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter)
      : propagation.extract(ROOT_CONTEXT, carrier);
  }

  return {
    async publish(info: PublishTraceInfo, send) {
      const span = tracer.startSpan(`publish ${info.scope}`, {
        kind: SpanKind.PRODUCER,
        attributes: {
          ...common(info.channel, 'publish', 'send'),
          'messaging.destination.template': `${info.scope}:{id}:${info.topic}`,
          'messaging.message.body.size': info.payloadBytes,
          'eventrail.event_type': info.eventType,
        },
      });
      const ctx = trace.setSpan(context.active(), span);
      try {
        await context.with(ctx, () => send(inject(ctx)));
      } catch (err) {
        fail(span, err);
        throw err;
      } finally {
        span.end();
      }
    },

    deliver(info: DeliverTraceInfo, deliver) {
      const origin = extract(info.carrier);
      const remote = trace.getSpanContext(origin);
      const links: Link[] = linkOnly && remote ? [{ context: remote }] : [];
      const attributes: Attributes = {
        ...common(info.channel, 'deliver', 'process'),
        'eventrail.event_name': info.eventName,
      };
      if (info.id !== undefined) attributes['messaging.message.id'] = info.id;
      const parent = linkOnly ? ROOT_CONTEXT : origin;
      const span = tracer.startSpan(
        `deliver ${info.scope}`,
        { kind: SpanKind.CONSUMER, attributes, links },
        parent,
      );
      try {
        const recipients = context.with(trace.setSpan(parent, span), deliver);
        span.setAttribute('eventrail.recipients', recipients);
      } catch (err) {
        fail(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  };
}

function common(channel: string, name: string, type: string): Attributes {
  return {
    'messaging.system': 'eventrail',
    'messaging.operation.name': name,
    'messaging.operation.type': type,
    'messaging.destination.name': channel,
  };
}

function fail(span: Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err);
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: err instanceof Error ? err.message : String(err),
  });
}
