import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { freePort, startRedis, type TestRedis, type TestRedisTls, waitFor } from './redis.js';

/** `redis-cli` prints a map reply as alternating lines of field and value; this reads it back. */
export function cliMap(output: string): Map<string, string> {
  const lines = output.split('\n');
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < lines.length; i += 2) map.set(lines[i]!, lines[i + 1]!);
  return map;
}

/** A primary, its replica and three Sentinels monitoring them under `name`: five real processes. */
export interface TestSentinelSet {
  name: string;
  primary: TestRedis;
  replica: TestRedis;
  sentinels: TestRedis[];
  /** The address the Sentinels currently report for the primary. */
  primaryPort(): number;
  stop(): Promise<void>;
}

/**
 * Starts a Sentinel set-up and waits until it can fail over: the replica in sync, and every Sentinel
 * aware of the replica and of the two other Sentinels (they find each other through hello messages
 * every 2 s). `downAfterMs` is how long the primary must be silent before it is considered down.
 */
export async function startSentinelSet(
  options: { name?: string; downAfterMs?: number; sentinelPassword?: string } = {},
): Promise<TestSentinelSet> {
  const name = options.name ?? 'cachette-primary';
  const primary = await startRedis();
  const replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(primary.port)] });
  const config = [
    `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
    `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
    `sentinel failover-timeout ${name} 10000`,
    `sentinel parallel-syncs ${name} 1`,
    // Sentinels that require a password present it to each other too
    ...(options.sentinelPassword ? [`sentinel sentinel-pass ${options.sentinelPassword}`] : []),
    '',
  ].join('\n');
  const password = options.sentinelPassword;
  const sentinels = await Promise.all(
    [0, 1, 2].map(() => startRedis({ config, args: ['--sentinel'], ...(password ? { password } : {}) })),
  );
  const set: TestSentinelSet = {
    name,
    primary,
    replica,
    sentinels,
    primaryPort: () => Number(sentinels[0]!.cli('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name).split('\n')[1]),
    stop: async () => {
      await Promise.all([primary, replica, ...sentinels].map((server) => server.stop()));
    },
  };
  try {
    await waitFor(
      () => replica.cli('INFO', 'replication').includes('master_link_status:up'),
      15_000,
      'the replica to sync',
    );
    await waitFor(
      () =>
        sentinels.every((sentinel) => {
          const master = cliMap(sentinel.cli('SENTINEL', 'MASTER', name));
          return master.get('num-slaves') === '1' && master.get('num-other-sentinels') === '2';
        }),
      20_000,
      'the Sentinels to know the replica and each other',
    );
  } catch (err) {
    await set.stop();
    throw err;
  }
  return set;
}

/** Six cluster nodes: three primaries with one replica each. `primaries()` and `replicaOf()` read the live roles. */
export interface TestCluster {
  nodes: TestRedis[];
  /** `host:port` of every node, as `REDIS_CLUSTER_NODES` takes them. */
  addresses(): string[];
  /** The nodes that are primaries right now (asked to a live node). */
  primaries(): TestRedis[];
  /** The node that serves `slot` as primary right now. */
  primaryOfSlot(slot: number): TestRedis;
  /** A live replica of `primary`. */
  replicaOf(primary: TestRedis): TestRedis;
  /** Waits until every live node reports `cluster_state:ok` and agrees on the primaries. */
  settled(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** One line of `CLUSTER NODES`: id, address, flags, primary id, slot ranges. */
interface ClusterNodeLine {
  id: string;
  port: number;
  flags: string[];
  primaryId: string;
  linkState: string;
  slots: Array<[number, number]>;
}

function clusterNodes(output: string): ClusterNodeLine[] {
  return output
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const [id, address, flags, primaryId, , , , linkState, ...ranges] = line.split(' ');
      const slots = ranges
        .filter((range) => !range.startsWith('['))
        .map((range) => {
          const [from, to] = range.split('-');
          return [Number(from), Number(to ?? from)] as [number, number];
        });
      return {
        id: id!,
        port: Number(address!.split('@')[0]!.split(':').at(-1)),
        flags: flags!.split(','),
        primaryId: primaryId!,
        linkState: linkState!,
        slots,
      };
    });
}

/**
 * `count` distinct free ports whose cluster bus port (port + 10000) is free too: a node cannot start
 * above 55535, and a bus port taken by another process breaks `--cluster create`.
 */
async function clusterPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    const port = await freePort();
    if (port > 55535 || ports.has(port) || ports.has(port + 10000) || ports.has(port - 10000)) continue;
    if (await portFree(port + 10000)) ports.add(port);
  }
  return [...ports];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Starts a Redis Cluster of six real processes (three primaries, one replica each) created with
 * `redis-cli --cluster create`, and waits until it serves every slot. `nodeTimeoutMs` is how long a
 * silent primary takes to be considered failed (Redis's default, 15 s, would make the suite slow).
 * With `tls`, every node listens only on TLS, the cluster bus included (give `clientCertFile` and
 * `clientKeyFile`: the nodes present them to each other).
 */
export async function startCluster(
  options: { nodeTimeoutMs?: number; tls?: TestRedisTls } = {},
): Promise<TestCluster> {
  const { tls } = options;
  const args = [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    String(options.nodeTimeoutMs ?? 1000),
    // with TLS, the cluster bus and replication use it too, and nodes announce their TLS port;
    // a node connecting to another presents a client certificate (the server one is serverAuth only)
    ...(tls ? ['--tls-cluster', 'yes', '--tls-replication', 'yes'] : []),
    ...(tls?.clientCertFile && tls.clientKeyFile
      ? ['--tls-client-cert-file', tls.clientCertFile, '--tls-client-key-file', tls.clientKeyFile]
      : []),
  ];
  const ports = await clusterPorts(6);
  const nodes = await Promise.all(ports.map((port) => startRedis({ port, args, tls })));
  const cliTls = tls ? ['--tls', '--cacert', tls.caFile] : [];
  const live = new Set(nodes);
  const alive = () => nodes.filter((node) => live.has(node));
  const view = () => clusterNodes(alive()[0]!.cli('CLUSTER', 'NODES'));
  const byPort = (port: number) => {
    const node = nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no test node on port ${port}`);
    return node;
  };
  // a killed node stays out of alive() until started again
  for (const node of nodes) {
    const { kill, start } = node;
    Object.assign(node, {
      kill: async () => {
        live.delete(node);
        await kill();
      },
      start: async () => {
        await start();
        live.add(node);
      },
    });
  }
  const cluster: TestCluster = {
    nodes,
    addresses: () => nodes.map((node) => `127.0.0.1:${node.port}`),
    primaries: () =>
      view()
        .filter(
          (line) => line.flags.includes('master') && !line.flags.includes('fail') && line.slots.length > 0,
        )
        .map((line) => byPort(line.port)),
    primaryOfSlot: (slot) => {
      const line = view().find(
        (l) =>
          l.flags.includes('master') &&
          !l.flags.includes('fail') &&
          l.slots.some(([a, b]) => slot >= a && slot <= b),
      );
      if (!line) throw new Error(`no primary serves slot ${slot}`);
      return byPort(line.port);
    },
    replicaOf: (primary) => {
      const lines = view();
      const id = lines.find((line) => line.port === primary.port)?.id;
      const replica = lines.find(
        (line) =>
          line.primaryId === id &&
          line.linkState === 'connected' &&
          !line.flags.some((flag) => flag.startsWith('fail')) &&
          live.has(byPort(line.port)),
      );
      if (!replica) throw new Error(`no live replica of the primary on port ${primary.port}`);
      return byPort(replica.port);
    },
    settled: (timeoutMs = 20_000) =>
      waitFor(
        () =>
          alive().every((node) => {
            try {
              return node.cli('CLUSTER', 'INFO').includes('cluster_state:ok');
            } catch {
              return false;
            }
          }),
        timeoutMs,
        'cluster_state:ok on every node',
      ),
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
  try {
    try {
      execFileSync(
        'redis-cli',
        [
          ...cliTls,
          '--cluster',
          'create',
          ...cluster.addresses(),
          '--cluster-replicas',
          '1',
          '--cluster-yes',
        ],
        // bounded: a cluster whose nodes cannot meet would make it wait forever
        { stdio: 'pipe', encoding: 'utf8', timeout: 60_000 },
      );
    } catch (err) {
      const { stdout, stderr } = err as { stdout?: string; stderr?: string };
      throw new Error(`redis-cli --cluster create failed:\n${stdout ?? ''}\n${stderr ?? ''}`);
    }
    await cluster.settled();
    // every replica attached and in sync, so that a failover can promote it
    await waitFor(
      () =>
        view().filter((line) => line.flags.includes('slave')).length === 3 &&
        nodes.every((node) => !node.cli('INFO', 'replication').includes('master_link_status:down')),
      20_000,
      'the replicas to sync',
    );
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}
