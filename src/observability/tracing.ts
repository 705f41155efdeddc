import { context, propagation, trace, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { createRequire } from 'node:module';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { DEFAULT_SERVICE_NAME } from '../workspace/config';

export const TRACER_NAME = 'whenflow';

/** A worker's tracing: spans go to `spanProcessor`; workflow spans reach it through a sink. */
export interface WorkerTracing {
  tracer: Tracer;
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Flushes spans still buffered and stops exporting. */
  shutdown(): Promise<void>;
}

let globalsInstalled = false;

/**
 * Process-wide, once: a context manager, so that spans started in an activity find their parent (the
 * activity's span) across awaits; and the W3C propagator, which reads the workflow's span from the
 * activity's headers. Neither replaces one the application registered before.
 */
function installGlobals(): void {
  if (globalsInstalled) return;
  globalsInstalled = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

export interface TracingOptions {
  /** Where spans go; default: a batching OTLP/HTTP exporter to `endpoint` (or the OTEL_EXPORTER_OTLP_* variables). */
  spanProcessor?: SpanProcessor;
  endpoint?: string;
  serviceName?: string;
}

/** Loaded when a worker exports traces: every other command (`whenflow run`, the client) starts without it. */
function otlpExporter(): typeof import('@opentelemetry/exporter-trace-otlp-http') {
  return createRequire(import.meta.url)(
    '@opentelemetry/exporter-trace-otlp-http',
  ) as typeof import('@opentelemetry/exporter-trace-otlp-http');
}

export function createTracing(options: TracingOptions): WorkerTracing {
  installGlobals();
  const resource = new Resource({ 'service.name': options.serviceName ?? process.env.OTEL_SERVICE_NAME ?? DEFAULT_SERVICE_NAME });
  const spanProcessor =
    options.spanProcessor ??
    new BatchSpanProcessor(new (otlpExporter().OTLPTraceExporter)(options.endpoint ? { url: options.endpoint } : {}));
  // A provider of our own, not the global one: an application embedding whenflow keeps its own tracing.
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  return {
    tracer: provider.getTracer(TRACER_NAME),
    resource,
    spanProcessor,
    shutdown: () => provider.shutdown(),
  };
}

/**
 * Tracing from the environment: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT turn it
 * on (the exporter reads them itself), unless OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true.
 */
export function tracingFromEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  if (tracingDisabled(env)) return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}

/** OpenTelemetry's own switches, which win over whenflow.yaml. */
export function tracingDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none';
}

/**
 * Runs `fn` in a new active span that records an error and always ends. `maskSecrets` hides the task's
 * secrets in what the span records of the error (its message and stack).
 */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Record<string, string | number>,
  fn: (span: Span) => Promise<T>,
  maskSecrets: (text: string) => string = (text) => text,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      const message = maskSecrets(error instanceof Error ? error.message : String(error));
      if (error instanceof Error) {
        const stack = error.stack === undefined ? undefined : maskSecrets(error.stack);
        span.recordException({ name: error.name, message, ...(stack !== undefined ? { stack } : {}) });
      } else {
        span.recordException(message);
      }
      span.setStatus({ code: SpanStatusCode.ERROR, message });
      throw error;
    } finally {
      span.end();
    }
  });
}

export { trace };
