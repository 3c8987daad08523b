// Starts the redis-server every scenario talks to: a free port, no persistence, killed on exit.
// The Redis-down scenario starts its own and kills, pauses and restarts it.
import { execFileSync, spawn } from 'node:child_process';
import net from 'node:net';

/** A TCP port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function accepting(port) {
  for (let i = 0; i < 250 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 20));
  if (!(await canConnect(port))) throw new Error(`redis-server did not start on port ${port}`);
}

/** Starts `redis-server --save '' --appendonly no` on a free port; resolves once it accepts connections. */
export async function startRedisServer() {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  let proc = spawn('redis-server', args, { stdio: 'ignore' });
  const kill = () => proc.kill('SIGKILL');
  process.on('exit', kill);
  await accepting(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    args: ['redis-server', ...args].join(' '),
    cli: (...cmd) => execFileSync('redis-cli', ['-p', String(port), ...cmd], { encoding: 'utf8' }).trim(),
    /** SIGKILL: the process and its data are gone; resolves once it has exited. */
    kill: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGKILL');
      }),
    /** SIGSTOP: connections stay open, nothing answers. */
    pause: () => proc.kill('SIGSTOP'),
    resume: () => proc.kill('SIGCONT'),
    /** Starts a fresh (empty) server on the same port after `kill()`; resolves once it accepts connections. */
    async restart() {
      proc = spawn('redis-server', args, { stdio: 'ignore' });
      await accepting(port);
    },
    stop() {
      process.off('exit', kill);
      kill();
    },
  };
}
