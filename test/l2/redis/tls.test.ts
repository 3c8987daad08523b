import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../../src/config/resolve.js';
import { CacheConfigError } from '../../../src/errors.js';
import { cacheFactory } from '../../support/cache.js';
import { generateCertificates, type TestCertificates } from '../../support/certificates.js';
import { captureLogger } from '../../support/logs.js';
import { startRedis, type TestRedis, waitFor } from '../../support/redis.js';

const caches = cacheFactory();
let certs: TestCertificates;
/** TLS only, no client certificate required. */
let tlsRedis: TestRedis;
/** TLS with client certificates required (mutual TLS). */
let mtlsRedis: TestRedis;

beforeAll(async () => {
  certs = generateCertificates();
  const server = { caFile: certs.caFile, certFile: certs.serverCertFile, keyFile: certs.serverKeyFile };
  const client = { clientCertFile: certs.clientCertFile, clientKeyFile: certs.clientKeyFile };
  [tlsRedis, mtlsRedis] = await Promise.all([
    startRedis({ tls: server }),
    startRedis({ tls: { ...server, ...client, authClients: true } }),
  ]);
});
afterAll(async () => {
  await Promise.all([tlsRedis?.stop(), mtlsRedis?.stop()]);
  certs?.remove();
});
afterEach(() => caches.closeAll());

describe('TLS (rediss://)', () => {
  it('connects with the CA named by REDIS_TLS_CA_FILE and stores values Redis serves over TLS', async () => {
    const cache = caches.create({
      env: { REDIS_URL: tlsRedis.url, REDIS_TLS_CA_FILE: certs.caFile },
      operationTimeoutMs: 2000,
    });
    expect(tlsRedis.url.startsWith('rediss://')).toBe(true);
    expect(await cache.set('products_count', 1500, { dbType: 'catalog' })).toBe(true);
    expect(tlsRedis.cli('GET', 'catalog_products_count')).toBe('1500');
    expect(await cache.get('products_count', { dbType: 'catalog' })).toBe(1500);
    expect(cache.status().l2.state).toBe('ready');
  });

  it('presents the client certificate from REDIS_TLS_CERT_FILE / REDIS_TLS_KEY_FILE to a server that requires one', async () => {
    const cache = caches.create({
      env: {
        REDIS_URL: mtlsRedis.url,
        REDIS_TLS_CA_FILE: certs.caFile,
        REDIS_TLS_CERT_FILE: certs.clientCertFile,
        REDIS_TLS_KEY_FILE: certs.clientKeyFile,
      },
      operationTimeoutMs: 2000,
    });
    expect(await cache.set('k', { tls: 'mutual' })).toBe(true);
    expect(await cache.get('k')).toEqual({ tls: 'mutual' });
    expect(mtlsRedis.cli('GET', 'default_k')).toBe('{"tls":"mutual"}');
    // the coherence subscriber connects with the same TLS material: another client's change reaches L1
    await waitFor(() => cache.status().coherence.connected, 3000, 'coherence over TLS');
    mtlsRedis.cli('SET', 'default_k', '{"tls":"changed"}');
    await waitFor(async () => (await cache.get<{ tls: string }>('k'))?.tls === 'changed', 1000, 'the change');
  });

  it('accepts the same material as Node TLS options through the `tls` option', async () => {
    const cache = caches.create({
      redisUrl: mtlsRedis.url,
      tls: {
        ca: readFileSync(certs.caFile),
        cert: readFileSync(certs.clientCertFile),
        key: readFileSync(certs.clientKeyFile),
      },
      operationTimeoutMs: 2000,
    });
    expect(await cache.set('via-option', 1)).toBe(true);
    expect(await cache.get('via-option')).toBe(1);
  });

  it('serves misses and false, never rejects, when the server certificate is not trusted', async () => {
    const logger = captureLogger();
    // no CA: the test CA is not in Node's trust store, so the handshake must fail
    const cache = caches.create({ redisUrl: tlsRedis.url, logger, connectTimeoutMs: 1000 });
    expect(await cache.ready(1500)).toBe(false);
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 1)).toBe(false);
    const warning = logger.lines.find((l) => l.level === 'warn' && /unavailable/.test(l.msg));
    expect(String(warning?.fields.err)).toMatch(/certificate/i);
  });

  it('fails the handshake, as misses, when the server requires a client certificate and none is given', async () => {
    const logger = captureLogger();
    const cache = caches.create({
      env: { REDIS_URL: mtlsRedis.url, REDIS_TLS_CA_FILE: certs.caFile },
      logger,
      connectTimeoutMs: 1000,
    });
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.set('k', 1)).toBe(false);
    expect(cache.status().l2.state).not.toBe('ready');
    expect(logger.lines.some((l) => l.level === 'warn' && /unavailable/.test(l.msg))).toBe(true);
  });
});

describe('TLS configuration', () => {
  it('reads the PEM files named in the environment once, into Node TLS options', () => {
    const config = resolveConfig({
      env: {
        REDIS_URL: 'rediss://cache.internal:6380/0',
        REDIS_TLS_CA_FILE: certs.caFile,
        REDIS_TLS_CERT_FILE: certs.clientCertFile,
        REDIS_TLS_KEY_FILE: certs.clientKeyFile,
      },
    });
    expect(config.redis.tls).toBe(true);
    expect(String(config.tlsOptions?.ca)).toContain('BEGIN CERTIFICATE');
    expect(String(config.tlsOptions?.cert)).toContain('BEGIN CERTIFICATE');
    expect(String(config.tlsOptions?.key)).toContain('PRIVATE KEY');
  });

  it('lets the tls option win over the files of the environment', () => {
    const config = resolveConfig({
      env: { REDIS_URL: 'rediss://h:1/0', REDIS_TLS_CA_FILE: certs.caFile },
      tls: { ca: 'inline CA', rejectUnauthorized: true },
    });
    expect(config.tlsOptions).toMatchObject({ ca: 'inline CA', rejectUnauthorized: true });
  });

  it('names the variable and the path of a TLS file that cannot be read', () => {
    const resolve = () =>
      resolveConfig({ env: { REDIS_URL: 'rediss://h:1/0', REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' } });
    expect(resolve).toThrow(CacheConfigError);
    expect(resolve).toThrow(/REDIS_TLS_CA_FILE .*\/nonexistent\/ca\.pem.*ENOENT/);
  });

  it('refuses TLS files with a redis:// URL instead of silently connecting without TLS', () => {
    expect(() =>
      resolveConfig({ env: { REDIS_URL: 'redis://u:pw@h:1/0', REDIS_TLS_CA_FILE: certs.caFile } }),
    ).toThrow(/REDIS_TLS_CA_FILE is set but the Redis URL is redis:\/\/u:\*\*\*@h:1\/0; use rediss:\/\//);
  });

  it('refuses a client certificate without its key', () => {
    expect(() =>
      resolveConfig({ env: { REDIS_URL: 'rediss://h:1/0', REDIS_TLS_CERT_FILE: certs.clientCertFile } }),
    ).toThrow(/both a certificate and its key/);
  });
});
