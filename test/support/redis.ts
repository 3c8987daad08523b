import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A real `redis-server` started for a test on a free port; never the shared one on the standard port. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  /** Runs a command through `redis-cli` and returns its raw output (trimmed). */
  cli(...args: string[]): string;
  /** SIGKILL: the process dies without a goodbye, sockets are reset. */
  kill(): Promise<void>;
  /** Graceful stop (SIGTERM) and wait for exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port (after kill/stop). */
  start(): Promise<void>;
  /** SIGSTOP: the process keeps its sockets but answers nothing. */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
}

let checked = false;

function assertRedisInstalled(): void {
  if (checked) return;
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'pipe' });
    checked = true;
  } catch {
    throw new Error(
      'redis-server is not installed: the tests start their own Redis processes. Install it with ' +
        '`apt-get update && apt-get install -y redis-server` (or run .ci/run, which does).',
    );
  }
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `condition` every few ms until it holds; throws after `timeoutMs` with `what` in the message. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** TLS set-up of a test server: it listens only on a TLS port; clients must present a certificate if `authClients`. */
export interface TestRedisTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** Certificate and key `redis-cli` presents (needed when `authClients`). */
  clientCertFile?: string;
  clientKeyFile?: string;
  authClients?: boolean;
}

/** Starts a `redis-server` on a free port (or `port`), without persistence; `args` go on its command line. */
export async function startRedis(
  options: {
    port?: number;
    args?: string[];
    password?: string;
    tls?: TestRedisTls;
    /** Text of a configuration file written to the server's directory and passed first (Sentinel needs one). */
    config?: string;
  } = {},
): Promise<TestRedis> {
  assertRedisInstalled();
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'cachette-redis-'));
  const auth = options.password ? ['--requirepass', options.password] : [];
  const { tls } = options;
  const listen = tls
    ? [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        tls.certFile,
        '--tls-key-file',
        tls.keyFile,
        '--tls-ca-cert-file',
        tls.caFile,
        '--tls-auth-clients',
        tls.authClients ? 'yes' : 'no',
      ]
    : ['--port', String(port)];
  let child: ChildProcess | undefined;

  const configFile = join(dir, 'redis.conf');
  if (options.config !== undefined) writeFileSync(configFile, options.config);
  const start = async () => {
    const config = options.config !== undefined ? [configFile] : [];
    const args = [
      ...config,
      ...listen,
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ];
    args.push('--loglevel', 'warning', ...auth, ...(options.args ?? []));
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    child = proc;
    await waitFor(() => canConnect(port), 10_000, `redis-server on port ${port}`);
  };

  const exited = (proc: ChildProcess | undefined) =>
    new Promise<void>((resolve) => {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) resolve();
      else proc.once('exit', () => resolve());
    });

  const cliAuth = options.password ? ['--no-auth-warning', '-a', options.password] : [];
  if (tls) {
    cliAuth.push('--tls', '--cacert', tls.caFile);
    if (tls.clientCertFile && tls.clientKeyFile)
      cliAuth.push('--cert', tls.clientCertFile, '--key', tls.clientKeyFile);
  }
  const scheme = tls ? 'rediss' : 'redis';
  await start();
  return {
    port,
    url: options.password
      ? `${scheme}://:${encodeURIComponent(options.password)}@127.0.0.1:${port}/0`
      : `${scheme}://127.0.0.1:${port}/0`,
    get pid() {
      return child?.pid;
    },
    cli: (...args) =>
      execFileSync('redis-cli', ['-p', String(port), ...cliAuth, ...args], { encoding: 'utf8' }).trim(),
    kill: async () => {
      const proc = child;
      proc?.kill('SIGCONT');
      proc?.kill('SIGKILL');
      await exited(proc);
    },
    stop: async () => {
      const proc = child;
      proc?.kill('SIGCONT');
      proc?.kill('SIGTERM');
      await exited(proc);
      rmSync(dir, { recursive: true, force: true });
    },
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
  };
}

/** How many times `redis` has run the command `name` (lower case, from `INFO commandstats`). */
export function commandCalls(redis: TestRedis, name: string): number {
  const line = redis
    .cli('INFO', 'commandstats')
    .split('\n')
    .find((l) => l.startsWith(`cmdstat_${name}:`));
  return line ? Number(/calls=(\d+)/.exec(line)?.[1]) : 0;
}

/**
 * Whether `redis` is stopped by SIGSTOP now (Linux: state `T` in /proc/<pid>/stat). `pause()` only
 * sends the signal: a test that must not see one more command answered waits for this.
 */
export function isStopped(redis: TestRedis): boolean {
  try {
    const stat = readFileSync(`/proc/${redis.pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('T');
  } catch {
    return false;
  }
}
