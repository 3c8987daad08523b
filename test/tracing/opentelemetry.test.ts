import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CachetteInstrumentationOptions, instrumentCachette } from '../../src/tracing/opentelemetry.js';
import { cacheFactory, redisPerFile } from '../support/cache.js';

const caches = cacheFactory();
const redis = redisPerFile(caches);
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const stops: Array<() => void> = [];

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  context.disable();
});
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
  exporter.reset();
});

function instrument(options: CachetteInstrumentationOptions = {}): void {
  stops.push(instrumentCachette({ tracerProvider: provider, ...options }));
}

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();

describe('cachette/opentelemetry', () => {
  it('turns each call into a CLIENT span with the database semantic attributes and the outcome', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    redis.cli('SET', 'catalog_products_count', '1500', 'EX', '100');
    instrument();
    await cache.get('products_count', { dbType: 'catalog' });
    await cache.set('temp', { a: 1 });
    await cache.getMany(['products_count', 'nothing'], { dbType: 'catalog' });
    expect(spans().map((span) => [span.name, span.kind, span.attributes])).toEqual([
      [
        'get catalog',
        SpanKind.CLIENT,
        {
          'db.system.name': 'redis',
          'db.system': 'redis',
          'db.operation.name': 'get',
          'db.collection.name': 'catalog',
          'cachette.key': 'products_count',
          'cachette.outcome': 'l2',
        },
      ],
      [
        'set default',
        SpanKind.CLIENT,
        expect.objectContaining({ 'db.operation.name': 'set', 'cachette.outcome': 'stored' }),
      ],
      [
        'getMany catalog',
        SpanKind.CLIENT,
        expect.objectContaining({
          'cachette.keys.count': 2,
          'cachette.hits': 1,
          'cachette.outcome': 'partial',
        }),
      ],
    ]);
    expect(spans().every((span) => span.status.code === SpanStatusCode.UNSET)).toBe(true);
  });

  it('makes the span a child of the span active when the call was made', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    instrument();
    const tracer = provider.getTracer('the application');
    await tracer.startActiveSpan('GET /api/v1/products/42', async (request) => {
      await cache.getOrSet('products_42', () => ({ id: 42 }), { dbType: 'catalog' });
      request.end();
    });
    const [cached, parent] = spans();
    expect(parent?.name).toBe('GET /api/v1/products/42');
    expect(cached).toMatchObject({ name: 'getOrSet catalog', attributes: { 'cachette.outcome': 'loaded' } });
    expect(cached?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
    expect(cached?.spanContext().traceId).toBe(parent?.spanContext().traceId);
  });

  it('records a rejected call as an exception with status ERROR and error.type', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    instrument();
    const failing = async () => {
      throw new Error('database down');
    };
    await expect(cache.getOrSet('k', failing)).rejects.toThrow('database down');
    await expect(cache.get('', { dbType: 'catalog' })).rejects.toMatchObject({ code: 'E_CACHE_KEY' });
    const [factory, key] = spans();
    expect(factory?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'database down' });
    expect(factory?.attributes).toMatchObject({ 'error.type': 'Error', 'cachette.outcome': 'error' });
    expect(factory?.events.map((event) => event.name)).toEqual(['exception']);
    expect(key?.attributes['error.type']).toBe('E_CACHE_KEY');
  });

  it('marks a call whose Redis work failed as ERROR, although the caller got a miss', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.ready();
    await redis.kill();
    try {
      instrument();
      expect(await cache.get('k')).toBeUndefined();
    } finally {
      await redis.start();
    }
    expect(spans()).toMatchObject([
      {
        name: 'get default',
        status: { code: SpanStatusCode.ERROR },
        attributes: { 'error.type': 'cachette.l2_failure', 'cachette.outcome': 'error' },
      },
    ]);
  });

  it('records invalidations with what, why and how many', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.set('products_42', 1, { dbType: 'catalog', tags: ['product:42'] });
    instrument();
    await cache.invalidateTags(['product:42'], { reason: 'product 42 updated' });
    expect(spans()).toMatchObject([
      {
        name: 'invalidate',
        attributes: {
          'db.operation.name': 'invalidate',
          'cachette.invalidation': 'tags',
          'cachette.tags': ['product:42'],
          'cachette.reason': 'product 42 updated',
          'cachette.removed': 1,
        },
      },
    ]);
  });

  it('leaves keys out with keys: false, L1 hits out with ignoreL1Hits, and stops with the returned function', async () => {
    const cache = caches.create({ redisUrl: redis.url });
    await cache.set('k', 1);
    instrument({ keys: false, ignoreL1Hits: true });
    await cache.get('k');
    await cache.get('other');
    expect(spans()).toHaveLength(1);
    expect(spans()[0]?.attributes).not.toHaveProperty('cachette.key');
    expect(spans()[0]?.attributes['cachette.outcome']).toBe('miss');
    for (const stop of stops.splice(0)) stop();
    await cache.get('other');
    expect(spans()).toHaveLength(1);
  });
});
