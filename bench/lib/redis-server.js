// Starts the redis-server every scenario talks to: a free port, no persistence, killed on exit.
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

/** Starts `redis-server --save '' --appendonly no` on a free port; resolves once it accepts connections. */
export async function startRedisServer() {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const proc = spawn('redis-server', args, { stdio: 'ignore' });
  const kill = () => proc.kill('SIGKILL');
  process.once('exit', kill);
  for (let i = 0; i < 250 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 20));
  if (!(await canConnect(port))) throw new Error(`redis-server did not start on port ${port}`);
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    args: ['redis-server', ...args].join(' '),
    cli: (...cmd) => execFileSync('redis-cli', ['-p', String(port), ...cmd], { encoding: 'utf8' }).trim(),
    stop() {
      process.off('exit', kill);
      kill();
    },
  };
}
