import { describe, expect, it } from 'vitest';
import { parseNodeList } from '../../src/config/redis-target.js';
import { resolveConfig } from '../../src/config/resolve.js';
import { CacheConfigError } from '../../src/errors.js';

describe('Sentinel and Cluster configuration', () => {
  it('is standalone unless Sentinels or cluster nodes are given', () => {
    expect(resolveConfig({ env: {} }).topology).toEqual({ kind: 'standalone' });
  });

  it('reads REDIS_SENTINELS and REDIS_SENTINEL_MASTER, with credentials and TLS from the URL', () => {
    const config = resolveConfig({
      env: {
        REDIS_SENTINELS: 's1.internal:26379, 10.0.0.2:26380,[::1]:26381',
        REDIS_SENTINEL_MASTER: 'products',
        REDIS_URL: 'rediss://app:s3cret@ignored:1/2',
      },
    });
    expect(config.topology).toEqual({
      kind: 'sentinel',
      name: 'products',
      sentinels: [
        { host: 's1.internal', port: 26379 },
        { host: '10.0.0.2', port: 26380 },
        { host: '::1', port: 26381 },
      ],
    });
    expect(config.redis).toMatchObject({ tls: true, username: 'app', password: 's3cret', db: 2 });
    expect(config.redis.safeUrl).toBe(
      'rediss+sentinel://app:***@s1.internal:26379,10.0.0.2:26380,[::1]:26381/products/2',
    );
  });

  it('reads REDIS_CLUSTER_NODES and turns TLS on when TLS material is given', () => {
    const config = resolveConfig({
      env: { REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000' },
      tls: { rejectUnauthorized: true },
    });
    expect(config.topology).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7000 },
      ],
    });
    expect(config.redis.tls).toBe(true);
    expect(config.redis.safeUrl).toBe('rediss+cluster://10.0.0.1:7000,10.0.0.2:7000');
  });

  it('lets options win over the environment', () => {
    const config = resolveConfig({
      env: { REDIS_CLUSTER_NODES: '10.0.0.1:7000' },
      sentinel: { sentinels: [{ host: 'h', port: 1 }], name: 'n' },
    });
    expect(config.topology.kind).toBe('sentinel');
  });

  it.each([
    [{ env: { REDIS_SENTINELS: 'h:1' } }, /REDIS_SENTINEL_MASTER/],
    [
      { env: { REDIS_SENTINELS: 'h:1,nonsense', REDIS_SENTINEL_MASTER: 'm' } },
      /REDIS_SENTINELS .*"nonsense"/,
    ],
    [{ env: { REDIS_CLUSTER_NODES: 'h:99999' } }, /REDIS_CLUSTER_NODES/],
    [{ env: { REDIS_CLUSTER_NODES: 'h:7000', REDIS_URL: 'redis://h:1/3' } }, /only database 0/],
    [{ sentinel: { sentinels: [], name: 'm' } }, /sentinel\.sentinels/],
    [{ sentinel: { sentinels: [{ host: 'h', port: 1 }], name: '' } }, /sentinel\.name/],
    [
      {
        sentinel: { sentinels: [{ host: 'h', port: 1 }], name: 'm' },
        cluster: { nodes: [{ host: 'h', port: 2 }] },
      },
      /not both/,
    ],
  ] as const)('refuses %j', (options, message) => {
    const resolve = () => resolveConfig({ env: {}, ...options } as Parameters<typeof resolveConfig>[0]);
    expect(resolve).toThrow(CacheConfigError);
    expect(resolve).toThrow(message);
  });

  it('parses a node list with IPv6 and spaces, and refuses an empty one', () => {
    expect(parseNodeList(' a:1 ,[fe80::1]:2', 'X')).toEqual([
      { host: 'a', port: 1 },
      { host: 'fe80::1', port: 2 },
    ]);
    expect(() => parseNodeList(' , ', 'X')).toThrow(/X lists no host:port/);
  });
});
