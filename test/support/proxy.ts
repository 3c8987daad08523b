import net from 'node:net';
import { freePort } from './redis.js';

/**
 * A TCP proxy between the cache and a real `redis-server`, to inject network faults:
 * - `latency(ms)`: every chunk, both ways, is delayed by `ms`;
 * - `blackhole()`: connections are accepted but nothing is forwarded or answered; bytes are held,
 *   like a network partition where TCP keeps retransmitting, and `restore()` delivers them (so a
 *   write sent during the partition reaches Redis late, the worst case for stale writes). A client
 *   that closes its connection meanwhile does not take back what it sent: as with a FIN queued
 *   behind unacknowledged data, Redis gets the held bytes first, then the close;
 * - `resetAll()`: every open connection is reset (RST) on both sides;
 * - `refuse()`: stops listening, so connections are refused; `restore()` listens again;
 * - `refuseNew()`: stops listening but keeps the open connections;
 * - `replyLatency(ms, n)`: only what Redis sends on the n-th accepted connection is delayed.
 */
export interface TestProxy {
  readonly port: number;
  readonly url: string;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Connections accepted since the proxy started. */
  readonly accepted: number;
  latency(ms: number): void;
  blackhole(): void;
  resetAll(): void;
  refuse(): Promise<void>;
  refuseNew(): Promise<void>;
  replyLatency(ms: number, connection: number): void;
  /** Back to a transparent proxy: no latency, held bytes delivered, listening. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

interface Pipe {
  client: net.Socket;
  upstream: net.Socket;
  /** 1 for the first connection accepted. */
  index: number;
  /** Bytes held during a blackhole, in order, with their direction; `null`: the client closed. */
  held: Array<{ toUpstream: boolean; chunk: Buffer | null }>;
}

/** Starts a proxy on a free port that forwards to `127.0.0.1:targetPort`. */
export async function startProxy(targetPort: number): Promise<TestProxy> {
  const port = await freePort();
  const pipes = new Set<Pipe>();
  let latencyMs = 0;
  let holding = false;
  let accepted = 0;
  const replyLatencyMs = new Map<number, number>();

  const forward = (pipe: Pipe, toUpstream: boolean, chunk: Buffer | null) => {
    if (holding) {
      pipe.held.push({ toUpstream, chunk });
      return;
    }
    const target = toUpstream ? pipe.upstream : pipe.client;
    const send = () => {
      if (target.destroyed) return;
      if (chunk === null) target.end();
      else target.write(chunk);
    };
    const delayMs = latencyMs + (toUpstream ? 0 : (replyLatencyMs.get(pipe.index) ?? 0));
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  };

  const onConnection = (client: net.Socket) => {
    accepted++;
    const upstream = net.connect({ port: targetPort, host: '127.0.0.1' });
    const pipe: Pipe = { client, upstream, index: accepted, held: [] };
    pipes.add(pipe);
    const teardown = () => {
      pipes.delete(pipe);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => forward(pipe, true, chunk));
    upstream.on('data', (chunk: Buffer) => forward(pipe, false, chunk));
    let closeHeld = false;
    const clientGone = () => {
      // during a blackhole the close waits behind the held bytes (restore() delivers both)
      if (holding && pipes.has(pipe)) {
        if (!closeHeld) forward(pipe, true, null);
        closeHeld = true;
      } else teardown();
    };
    client.on('error', clientGone).on('close', clientGone);
    upstream.on('error', teardown).on('close', teardown);
  };

  let server = net.createServer(onConnection);
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  /** Stops listening and resets every open connection (server.close() alone waits for them to end). */
  const shutDown = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) resolve();
      else server.close(() => resolve());
      resetAll();
    });
  await listen();

  const resetAll = () => {
    for (const pipe of [...pipes]) {
      pipes.delete(pipe);
      pipe.client.resetAndDestroy();
      pipe.upstream.resetAndDestroy();
    }
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    get connections() {
      return pipes.size;
    },
    get accepted() {
      return accepted;
    },
    latency(ms) {
      latencyMs = ms;
    },
    blackhole() {
      holding = true;
    },
    resetAll,
    refuse: shutDown,
    async refuseNew() {
      // close() stops accepting at once; its callback would wait for the open connections to end
      server.close();
    },
    replyLatency(ms, connection) {
      replyLatencyMs.set(connection, ms);
    },
    async restore() {
      latencyMs = 0;
      replyLatencyMs.clear();
      holding = false;
      for (const pipe of pipes) {
        for (const { toUpstream, chunk } of pipe.held.splice(0)) forward(pipe, toUpstream, chunk);
      }
      if (!server.listening) {
        server = net.createServer(onConnection);
        await listen();
      }
    },
    close: shutDown,
  };
}
