import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { CacheConfigError } from '../errors.js';
import type { CacheOptions, RedisNode, RedisTarget, Topology } from './options.js';

/** The Redis URL used when neither `redisUrl` nor `REDIS_URL` is given. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0';

/** Query parameters whose value is a secret (`?password=`, `sslpassword`, `auth_token`, `apiKey`…). */
const SECRET_PARAM = /pass|pwd|secret|token|auth|credential|key/i;

/**
 * Replaces the secrets of a URL (Redis, PostgreSQL…) with `***`: the password of its user part and
 * the values of query parameters named like one; returns a placeholder if the text is not a URL.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of new Set(parsed.searchParams.keys())) {
      if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, '***');
    }
    return parsed.toString();
  } catch {
    return '<unparseable URL>';
  }
}

/** Removes a secret from a message in case a client error echoes it. */
export function redactSecrets(message: string, secret: string | undefined): string {
  return secret ? message.split(secret).join('***') : message;
}

/** Parses a Redis URL; throws `CacheConfigError` naming `source` and never echoing the password. */
export function parseRedisUrl(url: string, source = 'REDIS_URL'): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CacheConfigError(
      `${source} is not a valid URL (${redactUrl(url)}); expected redis://[user:password@]host:port/db`,
    );
  }
  const safeUrl = redactUrl(url);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new CacheConfigError(`${source} must start with redis:// or rediss://, got ${safeUrl}`);
  }
  if (!parsed.hostname) throw new CacheConfigError(`${source} has no host: ${safeUrl}`);
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const path = parsed.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d+$/.test(path)) {
    throw new CacheConfigError(`${source} database must be a number (redis://host:port/0), got ${safeUrl}`);
  }
  const hostname = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return {
    tls: parsed.protocol === 'rediss:',
    host: hostname,
    port,
    db: path === '' ? 0 : Number(path),
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    safeUrl,
  };
}

/** The environment variables naming TLS files, and the Node TLS option each one fills. */
export const TLS_FILES = [
  ['REDIS_TLS_CA_FILE', 'ca'],
  ['REDIS_TLS_CERT_FILE', 'cert'],
  ['REDIS_TLS_KEY_FILE', 'key'],
] as const;

/**
 * The TLS options: the PEM files named in the environment, read once here, overridden by the `tls`
 * option. `undefined` when neither is set. A file that cannot be read is a `CacheConfigError`
 * naming the variable and the path (a path is not a secret; the file's content never appears).
 */
export function resolveTls(option: TlsOptions | undefined, env: NodeJS.ProcessEnv): TlsOptions | undefined {
  const fromFiles: TlsOptions = {};
  for (const [envName, field] of TLS_FILES) {
    const path = env[envName]?.trim();
    if (!path) continue;
    try {
      fromFiles[field] = readFileSync(path);
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new CacheConfigError(`${envName} names a file that cannot be read (${path}: ${reason})`);
    }
  }
  const tls = { ...fromFiles, ...option };
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new CacheConfigError(
      'a TLS client certificate needs both a certificate and its key (REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE, or tls.cert and tls.key)',
    );
  }
  return Object.keys(tls).length > 0 ? tls : undefined;
}

/** Parses `h1:p1,h2:p2` (IPv6 as `[::1]:p`) into nodes; throws `CacheConfigError` naming `source`. */
export function parseNodeList(text: string, source: string): RedisNode[] {
  const nodes = text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(part);
      const port = Number(match?.[3]);
      if (!match || port < 1 || port > 65535) {
        throw new CacheConfigError(
          `${source} must list host:port pairs separated by commas, got ${JSON.stringify(part)}`,
        );
      }
      return { host: (match[1] ?? match[2])!, port };
    });
  if (nodes.length === 0) throw new CacheConfigError(`${source} lists no host:port`);
  return nodes;
}

function checkNodes(nodes: unknown, source: string): RedisNode[] {
  const valid =
    Array.isArray(nodes) &&
    nodes.length > 0 &&
    nodes.every(
      (n) =>
        typeof n?.host === 'string' &&
        n.host !== '' &&
        Number.isInteger(n.port) &&
        n.port > 0 &&
        n.port < 65536,
    );
  if (!valid) throw new CacheConfigError(`${source} must be a non-empty array of { host, port }`);
  return (nodes as RedisNode[]).map(({ host, port }) => ({ host, port }));
}

/** The Sentinels' credentials, checked: a username needs a password; neither may be an empty or non-string value. */
function sentinelAuth(
  username: unknown,
  password: unknown,
  usernameSource: string,
  passwordSource: string,
): { auth?: { username?: string; password: string } } {
  if (username !== undefined && (typeof username !== 'string' || username === '')) {
    throw new CacheConfigError(`${usernameSource} must be a non-empty string`);
  }
  if (password === undefined) {
    if (username !== undefined)
      throw new CacheConfigError(`${usernameSource} is set but ${passwordSource} is not`);
    return {};
  }
  // the value is never echoed: it is a secret
  if (typeof password !== 'string' || password === '') {
    throw new CacheConfigError(`${passwordSource} must be a non-empty string`);
  }
  return { auth: username === undefined ? { password } : { username, password } };
}

/** Sentinel or cluster from the options, else from the environment; standalone when neither is set. */
export function resolveTopology(
  options: Pick<CacheOptions, 'sentinel' | 'cluster'>,
  env: NodeJS.ProcessEnv,
): Topology {
  let sentinel: Topology | undefined;
  let cluster: Topology | undefined;
  if (options.sentinel) {
    const { name } = options.sentinel;
    if (typeof name !== 'string' || name === '') {
      throw new CacheConfigError('sentinel.name must be the name the Sentinels monitor the primary under');
    }
    sentinel = {
      kind: 'sentinel',
      sentinels: checkNodes(options.sentinel.sentinels, 'sentinel.sentinels'),
      name,
      ...sentinelAuth(
        options.sentinel.username,
        options.sentinel.password,
        'sentinel.username',
        'sentinel.password',
      ),
    };
  } else if (!options.cluster && env.REDIS_SENTINELS?.trim()) {
    const name = env.REDIS_SENTINEL_MASTER?.trim();
    if (!name)
      throw new CacheConfigError(
        'REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER (the primary name) is not',
      );
    sentinel = {
      kind: 'sentinel',
      sentinels: parseNodeList(env.REDIS_SENTINELS, 'REDIS_SENTINELS'),
      name,
      ...sentinelAuth(
        env.REDIS_SENTINEL_USERNAME || undefined,
        env.REDIS_SENTINEL_PASSWORD || undefined,
        'REDIS_SENTINEL_USERNAME',
        'REDIS_SENTINEL_PASSWORD',
      ),
    };
  }
  if (options.cluster) {
    cluster = { kind: 'cluster', nodes: checkNodes(options.cluster.nodes, 'cluster.nodes') };
  } else if (!options.sentinel && env.REDIS_CLUSTER_NODES?.trim()) {
    cluster = { kind: 'cluster', nodes: parseNodeList(env.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES') };
  }
  if (sentinel && cluster) {
    throw new CacheConfigError(
      'choose Sentinel or Cluster, not both (sentinel/REDIS_SENTINELS and cluster/REDIS_CLUSTER_NODES)',
    );
  }
  return sentinel ?? cluster ?? { kind: 'standalone' };
}

/** How the deployment appears in logs and `status()`: the nodes to start from, credentials redacted. */
export function describeTopology(topology: Topology, redis: RedisTarget): string {
  if (topology.kind === 'standalone') return redis.safeUrl;
  const scheme = redis.tls ? 'rediss' : 'redis';
  const user =
    redis.username || redis.password ? `${redis.username ?? ''}${redis.password ? ':***' : ''}@` : '';
  const list = (nodes: RedisNode[]) =>
    nodes.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',');
  return topology.kind === 'sentinel'
    ? `${scheme}+sentinel://${user}${list(topology.sentinels)}/${topology.name}/${redis.db}`
    : `${scheme}+cluster://${user}${list(topology.nodes)}`;
}
