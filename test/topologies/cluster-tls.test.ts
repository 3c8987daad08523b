import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keySlot } from '../../src/l2/redis/cluster/slots.js';
import { cacheFactory } from '../support/cache.js';
import { generateCertificates, type TestCertificates } from '../support/certificates.js';
import { captureLogger } from '../support/logs.js';
import { waitFor } from '../support/redis.js';
import { startCluster, type TestCluster } from '../support/topologies.js';

const caches = cacheFactory();
let certs: TestCertificates;
let cluster: TestCluster;

beforeAll(async () => {
  certs = generateCertificates();
  cluster = await startCluster({
    tls: {
      caFile: certs.caFile,
      certFile: certs.serverCertFile,
      keyFile: certs.serverKeyFile,
      clientCertFile: certs.clientCertFile,
      clientKeyFile: certs.clientKeyFile,
    },
  });
});
afterAll(async () => {
  await cluster?.stop();
  certs?.remove();
});
afterEach(() => caches.closeAll());

describe('Redis Cluster over TLS', () => {
  it('reaches every node with rediss:// and the CA file from the environment', async () => {
    const logger = captureLogger();
    const cache = caches.create({
      env: {
        REDIS_URL: 'rediss://ignored',
        REDIS_TLS_CA_FILE: certs.caFile,
        REDIS_CLUSTER_NODES: cluster.addresses()[0]!,
      },
      logger,
      operationTimeoutMs: 2000,
    });
    expect(await cache.ready(10_000)).toBe(true);
    // coherence too: a subscriber per primary, over TLS
    await waitFor(() => cache.status().coherence.connected, 10_000, 'invalidations from every primary');
    const entries = Array.from({ length: 12 }, (_, i) => ({ key: `t${i}`, value: i }));
    expect(await cache.setMany(entries)).toBe(true);
    // the values are on all three primaries: each one was reached over TLS
    const ports = new Set(entries.map((e) => cluster.primaryOfSlot(keySlot(`default_${e.key}`)).port));
    expect(ports.size).toBe(3);
    for (const { key, value } of entries) {
      expect(cluster.primaryOfSlot(keySlot(`default_${key}`)).cli('GET', `default_${key}`)).toBe(
        String(value),
      );
    }
    expect(await cache.getMany(entries.map((e) => e.key))).toEqual(entries.map((e) => e.value));
    const removed = await cache.deletePattern('t*');
    // on failure, say why (the warnings name the node and the error)
    if (removed !== 12) console.log(JSON.stringify(logger.lines.filter((l) => l.level !== 'debug')));
    expect(removed).toBe(12);
    expect(cache.status().l2.url).toBe(`rediss+cluster://${cluster.addresses()[0]}`);
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });
});
