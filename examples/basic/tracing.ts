/**
 * `TRACE=console npm run example:basic`: OpenTelemetry's Node SDK printing every span to stdout,
 * and eventrail's spans through `eventrail/opentelemetry`. A real app registers its usual exporter
 * (OTLP, ...) the same way; eventrail itself depends on `@opentelemetry/api` only.
 */
import {
  ConsoleSpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import type { EventTracing } from 'eventrail';
import { openTelemetry } from 'eventrail/opentelemetry';

/** Registers the SDK globally (tracer provider, context manager, W3C propagators). */
export function consoleTracing(): EventTracing {
  const provider = new NodeTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())],
  });
  provider.register();
  return openTelemetry();
}
