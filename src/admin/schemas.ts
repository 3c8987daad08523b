/**
 * JSON Schemas of the admin API: request validation and documentation for the Fastify plugin
 * (the handlers check the same rules themselves, for Express and direct use).
 */

const error = {
  type: 'object',
  properties: {
    error: {
      type: 'string',
      description: 'stable code: bad_request, unauthorized, forbidden, redis_unavailable',
    },
    message: { type: 'string' },
    field: { type: 'string', description: 'the offending field, on 400' },
  },
  required: ['error', 'message'],
} as const;

const errors = { 400: error, 401: error, 403: error, 503: error } as const;

const cacheKey = { type: 'string', minLength: 1, maxLength: 1024 } as const;

export const statsSchema = {
  summary: 'Cache statistics: per tier and dbType hits, misses, errors, hit rate; L1 size; Redis facts',
  response: {
    200: {
      type: 'object',
      additionalProperties: true,
      properties: {
        status: { type: 'string', enum: ['ok', 'degraded'] },
        generatedAt: { type: 'string' },
        hitRate: { type: 'number' },
        l1: { type: 'object', additionalProperties: true },
        l2: { type: 'object', additionalProperties: true },
        breaker: { type: 'object', additionalProperties: true },
        coherence: { type: 'object', additionalProperties: true },
        pending: { type: 'object', additionalProperties: true },
        warming: { type: 'object', additionalProperties: true },
        domains: { type: 'object', additionalProperties: true },
      },
    },
    ...errors,
  },
} as const;

export const keysSchema = {
  summary: "One page of a domain's key names with their remaining TTL in seconds (SCAN, never values)",
  querystring: {
    type: 'object',
    properties: {
      dbType: { type: 'string', minLength: 1 },
      pattern: { ...cacheKey, description: 'Redis glob on the part after the prefix; default *' },
      cursor: {
        type: 'string',
        pattern: '^(\\d{1,5}-)?\\d{1,20}(\\.[A-Za-z0-9_-]+)?$',
        description: 'from the previous page',
      },
      limit: { type: 'integer', minimum: 1, description: 'page size, default 100, capped at 1000' },
    },
    required: ['dbType'],
  },
  response: {
    200: {
      type: 'object',
      properties: {
        dbType: { type: 'string' },
        keys: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              key: { type: 'string' },
              redisKey: { type: 'string' },
              ttl: { type: ['integer', 'null'] },
            },
            required: ['key', 'redisKey', 'ttl'],
          },
        },
        cursor: { type: ['string', 'null'], description: 'null once the whole domain has been listed' },
      },
      required: ['dbType', 'keys', 'cursor'],
    },
    ...errors,
  },
} as const;

export const clearSchema = {
  summary:
    'Remove keys: { dbType }, { dbType, pattern }, { dbType, key }, { tags: [...] } (values carrying any of them, every domain) or { all: true } (every key of the app); an empty body is refused',
  body: {
    type: 'object',
    minProperties: 1,
    // propertyNames rather than additionalProperties: Fastify's validator would silently drop an
    // unknown field, and { dbType, patern } would then clear the whole domain
    propertyNames: { enum: ['dbType', 'key', 'pattern', 'tags', 'all'] },
    properties: {
      dbType: { type: 'string', minLength: 1 },
      key: cacheKey,
      pattern: cacheKey,
      // no `type` on these two: Fastify's coercion would turn "tags": "x" into ["x"] and "all": "true"
      // into true; the handler refuses both, as it does under Express
      tags: { description: 'an array of 1 to 64 tags of 1 to 256 characters' },
      all: { description: 'true: every key under every prefix of the app', const: true },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        scope: { type: 'string', enum: ['key', 'pattern', 'domain', 'tags', 'all'] },
        dbType: { type: 'string' },
        key: { type: 'string' },
        pattern: { type: 'string' },
        tags: { type: 'array', items: { type: 'string' } },
        removed: { type: ['integer', 'null'], description: 'Redis keys removed; null for a single key' },
      },
      required: ['scope', 'removed'],
    },
    ...errors,
  },
} as const;
