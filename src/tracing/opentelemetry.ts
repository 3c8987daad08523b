import { tracingChannel } from 'node:diagnostics_channel';
import {
  type Attributes,
  type Context,
  context as contexts,
  SpanKind,
  SpanStatusCode,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { CHANNEL_NAMES, type TraceContext } from './channels.js';

/** Options of `instrumentCachette`. */
export interface CachetteInstrumentationOptions {
  /** Where the spans go. Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
  /** Record the key of each call (`cachette.key`). Default `true`; turn it off when keys carry personal data. */
  keys?: boolean;
  /** No span for calls answered by the memory tier (L1): the bulk of a hot cache's calls. Default `false`. */
  ignoreL1Hits?: boolean;
}

/** A call seen at its start: when, and the caller's active context (its span becomes the parent). */
interface Started {
  startTime: number;
  parent: Context;
}

/** Attribute names from the OpenTelemetry database semantic conventions, and cachette's own. */
const DB_SYSTEM = 'db.system.name';
const DB_SYSTEM_LEGACY = 'db.system';
const DB_OPERATION = 'db.operation.name';
const DB_COLLECTION = 'db.collection.name';
const ERROR_TYPE = 'error.type';

/** The context fields recorded as `cachette.<name>` attributes when present. */
const DETAILS = [
  'outcome',
  'pattern',
  'tags',
  'group',
  'scope',
  'reason',
  'invalidation',
  'removed',
  'hits',
  'loaded',
] as const;

function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Turns cachette's tracing channels (`cachette:get`, `:set`, `:delete`, `:getOrSet`, `:invalidate`)
 * into OpenTelemetry spans: one CLIENT span per call, named `<operation> <dbType>` (`get catalog`),
 * child of the span active when the call was made, with the database semantic attributes
 * (`db.system.name` `redis`, `db.operation.name`, `db.collection.name` the domain) and cachette's own
 * (`cachette.key`, `cachette.outcome`, …). A rejected call records its exception; a call whose Redis
 * work failed (answered a miss or `false`) has status ERROR and `error.type` `cachette.l2_failure`.
 * Returns the function that stops it. Call it once per process: each call subscribes again.
 */
export function instrumentCachette(options: CachetteInstrumentationOptions = {}): () => void {
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer('cachette');
  const withKeys = options.keys ?? true;
  const started = new WeakMap<object, Started>();

  const start = (message: unknown) => {
    started.set(message as object, { startTime: now(), parent: contexts.active() });
  };
  const finish = (message: unknown) => {
    const call = message as TraceContext & Record<string, unknown>;
    const begun = started.get(call);
    if (begun === undefined) return;
    started.delete(call);
    if (options.ignoreL1Hits && call.outcome === 'l1') return;
    const attributes: Attributes = {
      [DB_SYSTEM]: 'redis',
      [DB_SYSTEM_LEGACY]: 'redis',
      [DB_OPERATION]: call.operation,
    };
    if (call.dbType !== undefined) attributes[DB_COLLECTION] = call.dbType;
    if (withKeys && call.key !== undefined) attributes['cachette.key'] = call.key;
    if (call.keys !== undefined) attributes['cachette.keys.count'] = call.keys.length;
    for (const name of DETAILS) {
      const value = call[name];
      if (typeof value === 'string' || typeof value === 'number') attributes[`cachette.${name}`] = value;
      else if (Array.isArray(value)) attributes[`cachette.${name}`] = value.map(String);
    }
    const name = call.dbType === undefined ? call.operation : `${call.operation} ${call.dbType}`;
    const span = tracer.startSpan(
      name,
      { kind: SpanKind.CLIENT, startTime: begun.startTime, attributes },
      begun.parent,
    );
    if (call.error !== undefined) {
      const error = call.error as { code?: unknown; name?: unknown; message?: unknown };
      span.recordException(call.error instanceof Error ? call.error : String(call.error));
      span.setAttribute(ERROR_TYPE, String(error.code ?? error.name ?? 'Error'));
      span.setStatus({ code: SpanStatusCode.ERROR, message: String(error.message ?? call.error) });
    } else if (call.outcome === 'error') {
      span.setAttribute(ERROR_TYPE, 'cachette.l2_failure');
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: 'Redis failed; the call answered a miss or false',
      });
    }
    span.end(now());
  };

  const channels = Object.values(CHANNEL_NAMES).map((name) => tracingChannel(name));
  for (const channel of channels) {
    channel.start.subscribe(start);
    channel.asyncEnd.subscribe(finish);
  }
  return () => {
    for (const channel of channels) {
      channel.start.unsubscribe(start);
      channel.asyncEnd.unsubscribe(finish);
    }
  };
}
