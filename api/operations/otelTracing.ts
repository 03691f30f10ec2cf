/**
 * The tracing port (tracing.ts) on OpenTelemetry: a NodeTracerProvider whose spans go through a
 * BatchSpanProcessor to an OTLP/HTTP collector (JSON to `<endpoint>/v1/traces`) or to the console.
 * Built by api/main.ts only when OTEL_TRACES_EXPORTER is otlp or console; with the default (none)
 * nothing here is loaded into use and nothing is sent anywhere.
 *
 * Parent and child spans are linked through an AsyncLocalStorage of this tracer rather than
 * OpenTelemetry's global context manager: nothing global is registered, so a stopped instance
 * leaves no provider behind and two instances in one process do not share one. For the same
 * reason an incoming `traceparent` is read here with the SDK's own W3C parser rather than through
 * a globally registered propagator; the sampler follows the
 * caller's sampled flag, as a parent-based sampler does for any parent. Export runs in the
 * background: a collector that is down or slow costs the turn nothing (failed batches are dropped
 * and reported through `onExportFailed`), and `shutdown` waits at most the export timeout.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { isSpanContextValid, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type SpanContext } from '@opentelemetry/api';
import { parseTraceParent } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, ParentBasedSampler, TraceIdRatioBasedSampler, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { errorIdOf, type ActiveSpan, type SpanName, type TraceAttributes, type Tracing } from './tracing';

export interface OtelTracingSettings {
  exporter: 'otlp' | 'console';
  /** The collector's base URL; spans go to `<endpoint>/v1/traces`. */
  endpoint: string;
  serviceName: string;
  /** deployment.environment.name of the resource (e.g. production, staging, local). */
  environment: string;
  /** Share of turns traced (0..1); a turn's spans are kept or dropped together. */
  sampleRatio: number;
}

export interface OtelTracingOptions {
  /** Replaces the configured exporter (tests: an in-memory exporter). */
  exporter?: SpanExporter;
  /** Batches could not be exported (collector down, refused, timed out); their spans are dropped. */
  onExportFailed?: (failure: ExportFailure) => void;
  /** Milliseconds between batches (default 2000). */
  scheduledDelayMillis?: number;
}

/** Spans dropped since the last report, and why the latest batch failed (the exporter's message: no span content). */
export interface ExportFailure {
  droppedSpans: number;
  reason: string;
}

export interface OtelTracing extends Tracing {
  /** Exports what is queued now (never rejects). */
  flush(): Promise<void>;
  /** Exports what is queued and stops, waiting at most the export timeout; later spans are not recorded. Never rejects. */
  shutdown(): Promise<void>;
}

/** One export may take this long before it is abandoned (also bounds shutdown). */
const EXPORT_TIMEOUT_MS = 10_000;

/** The spans where a request enters Kluis and the one where Kluis calls out. */
const KIND: Partial<Record<SpanName, SpanKind>> = { 'bot.turn': SpanKind.SERVER, 'chat.turn': SpanKind.SERVER, 'provider.chat': SpanKind.CLIENT };

/** `<endpoint>/v1/traces`, as the OTLP specification builds the signal URL from OTEL_EXPORTER_OTLP_ENDPOINT. */
export function tracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/** A traceparent longer than this is not read (version 00 is 55 characters; later versions may add fields). */
const MAX_TRACEPARENT_LENGTH = 256;

/** The caller's span from a traceparent header as received, or undefined unless it is well formed. */
export function remoteParentOf(header: string | string[] | undefined): SpanContext | undefined {
  // A repeated header (two values, or Node's comma-joined pair) is invalid: no way to tell which one is meant.
  if (typeof header !== 'string' || header.length > MAX_TRACEPARENT_LENGTH) return undefined;
  // The SDK's W3C parser: lowercase hex, no version ff, version 00 with exactly four fields, no all-zero ids.
  const parsed = parseTraceParent(header);
  if (!parsed) return undefined;
  const parent: SpanContext = { ...parsed, traceFlags: parsed.traceFlags & TraceFlags.SAMPLED, isRemote: true };
  return isSpanContextValid(parent) ? parent : undefined;
}

/** A collector that stays down is reported once per this many milliseconds, not once per batch. */
const REPORT_EVERY_MS = 60_000;

/** Passes every batch on, and reports failed ones (the SDK would drop them silently). */
function reportingFailures(inner: SpanExporter, onExportFailed: (failure: ExportFailure) => void): SpanExporter {
  let lastReport = -Infinity;
  let dropped = 0;
  return {
    export(spans: ReadableSpan[], done) {
      inner.export(spans, (result) => {
        // ExportResultCode.SUCCESS is 0 (@opentelemetry/core).
        if (result.code !== 0) {
          dropped += spans.length;
          if (performance.now() - lastReport >= REPORT_EVERY_MS) {
            lastReport = performance.now();
            onExportFailed({ droppedSpans: dropped, reason: result.error?.message ?? 'export failed' });
            dropped = 0;
          }
        }
        done(result);
      });
    },
    shutdown: () => inner.shutdown(),
    forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
  };
}

export function createOtelTracing(settings: OtelTracingSettings, options: OtelTracingOptions = {}): OtelTracing {
  const configured: SpanExporter =
    options.exporter ?? (settings.exporter === 'otlp' ? new OTLPTraceExporter({ url: tracesUrl(settings.endpoint), timeoutMillis: EXPORT_TIMEOUT_MS }) : new ConsoleSpanExporter());
  const exporter = options.onExportFailed ? reportingFailures(configured, options.onExportFailed) : configured;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: settings.serviceName,
      'deployment.environment.name': settings.environment,
      // The name before semantic conventions 1.27, still what many backends filter on.
      'deployment.environment': settings.environment,
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: options.scheduledDelayMillis ?? 2000, exportTimeoutMillis: EXPORT_TIMEOUT_MS })],
  });
  const tracer = provider.getTracer('kluis');
  const active = new AsyncLocalStorage<Context>();

  return {
    async span(name, attributes, fn) {
      const parent = active.getStore() ?? ROOT_CONTEXT;
      const span = tracer.startSpan(name, { kind: KIND[name] ?? SpanKind.INTERNAL, attributes: defined(attributes) }, parent);
      const fail = (errorId: string) => {
        span.setAttribute(ATTR_ERROR_TYPE, errorId);
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorId });
      };
      const handle: ActiveSpan = { set: (more) => void span.setAttributes(defined(more)), fail };
      try {
        return await active.run(trace.setSpan(parent, span), () => fn(handle));
      } catch (error) {
        fail(errorIdOf(error));
        throw error;
      } finally {
        span.end();
      }
    },
    continueTrace(traceparent, fn) {
      const parent = active.getStore() ? undefined : remoteParentOf(traceparent);
      return parent ? active.run(trace.setSpanContext(ROOT_CONTEXT, parent), fn) : fn();
    },
    // A batch that could not be sent was reported through onExportFailed already; flushing and
    // stopping never fail because the collector is away.
    flush: () => provider.forceFlush().catch(() => undefined),
    shutdown: () => provider.shutdown().catch(() => undefined),
  };
}

/** Attributes without the undefined ones (the type allows leaving one out conditionally). */
function defined(attributes: TraceAttributes): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) if (value !== undefined) out[key] = value;
  return out;
}
