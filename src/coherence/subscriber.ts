import net from 'node:net';
import tls, { type ConnectionOptions as TlsOptions } from 'node:tls';
import { RespProtocolError } from '../errors.js';
import { tlsSocketOptions } from '../l2/redis/outcome.js';
import { encodeCommand, RespError, RespReader, type RespValue } from './resp.js';

/** Where the subscriber connects, and as whom. */
export interface SubscriberTarget {
  host: string;
  port: number;
}

/** What the subscriber connection needs to know; the password never leaves it. */
export interface SubscriberOptions {
  username: string | undefined;
  password: string | undefined;
  tls: boolean;
  tlsOptions: TlsOptions | undefined;
  connectTimeoutMs: number;
  /** A PING is sent this often; a connection that does not answer within `heartbeatTimeoutMs` is replaced. */
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  reconnect: { minDelayMs: number; maxDelayMs: number };
}

/** What the subscription asks of each new connection. */
export interface Subscription {
  channels: string[];
  /** Ask the connection's `CLIENT ID` before subscribing (the target of tracking's `REDIRECT`). */
  needId: boolean;
}

/** What the subscriber reports. */
export interface SubscriberEvents {
  /** Subscribed to every channel: messages flow from now on. `clientId` when `needId`. */
  up(clientId: number | undefined): void;
  /** The connection is gone (or never came up); messages sent meanwhile are lost. */
  down(reason: string): void;
  message(channel: string, payload: RespValue): void;
  /** Redis refused a handshake command for good (ACL, unknown command): retrying cannot help. */
  refused(command: string, reply: string): void;
}

type Expected = 'auth' | 'client-id' | 'subscribe';

/**
 * One Redis connection in subscribe mode, for invalidation messages. It authenticates, asks its
 * client id if needed, subscribes, then only reads messages and answers a heartbeat. It reconnects
 * forever with capped, jittered backoff until closed, and can be moved to another server (a new
 * Sentinel primary). A connection that stops answering the heartbeat is dropped and replaced.
 */
export class Subscriber {
  readonly #options: SubscriberOptions;
  readonly #events: SubscriberEvents;
  #subscription: Subscription;
  #target: SubscriberTarget | undefined;
  #socket: net.Socket | undefined;
  #up = false;
  #closed = false;
  #failures = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #pongTimer: NodeJS.Timeout | undefined;
  readonly #settledWaiters = new Set<() => void>();

  constructor(options: SubscriberOptions, subscription: Subscription, events: SubscriberEvents) {
    this.#options = options;
    this.#subscription = subscription;
    this.#events = events;
  }

  get isUp(): boolean {
    return this.#up;
  }

  /** Connects to `target`, or moves there (dropping the current connection) if it is elsewhere. */
  connectTo(target: SubscriberTarget): void {
    if (this.#closed) return;
    if (this.#target && this.#target.host === target.host && this.#target.port === target.port) return;
    this.#target = { ...target };
    this.#restart('moving to another server');
  }

  /** Changes what each connection subscribes to, and reconnects with it. */
  resubscribe(subscription: Subscription): void {
    this.#subscription = subscription;
    if (this.#target) this.#restart('subscription changed');
  }

  /** Resolves once the current connection attempt is subscribed or failed; at once when up or idle. */
  settled(): Promise<void> {
    if (this.#up || this.#closed || !this.#socket) return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.add(resolve));
  }

  close(): void {
    this.#closed = true;
    this.#teardown();
    clearTimeout(this.#retryTimer);
    this.#notifySettled();
  }

  #restart(reason: string): void {
    clearTimeout(this.#retryTimer);
    const wasUp = this.#up;
    this.#teardown();
    if (wasUp) this.#events.down(reason);
    this.#connect();
  }

  #connect(): void {
    const target = this.#target;
    if (this.#closed || !target) return;
    const { tls: secure, tlsOptions, username, password, connectTimeoutMs } = this.#options;
    const socket = secure
      ? tls.connect({ host: target.host, port: target.port, ...tlsSocketOptions(target.host, tlsOptions) })
      : net.connect({ host: target.host, port: target.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    const reader = new RespReader();
    const expected: Expected[] = [];
    const commands: string[][] = [];
    if (password !== undefined) {
      commands.push(username !== undefined ? ['AUTH', username, password] : ['AUTH', password]);
      expected.push('auth');
    }
    if (this.#subscription.needId) {
      commands.push(['CLIENT', 'ID']);
      expected.push('client-id');
    }
    commands.push(['SUBSCRIBE', ...this.#subscription.channels]);
    for (const _ of this.#subscription.channels) expected.push('subscribe');
    let clientId: number | undefined;

    this.#handshakeTimer = setTimeout(
      () => this.#drop(`no subscription within ${connectTimeoutMs} ms`),
      connectTimeoutMs,
    );
    this.#handshakeTimer.unref();
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      socket.write(Buffer.concat(commands.map(encodeCommand)));
    });
    socket.on('data', (chunk: Buffer) => {
      if (socket !== this.#socket) return;
      let replies: RespValue[];
      try {
        replies = reader.push(chunk);
      } catch (err) {
        this.#drop(err instanceof RespProtocolError ? err.message : 'unreadable reply');
        return;
      }
      for (const reply of replies) {
        if (socket !== this.#socket) return;
        const step = expected.shift();
        if (step === undefined) {
          this.#onMessage(reply);
          continue;
        }
        if (reply instanceof RespError) {
          this.#onHandshakeError(step, reply.message);
          return;
        }
        if (step === 'client-id' && typeof reply === 'number') clientId = reply;
        if (expected.length === 0) this.#onSubscribed(clientId);
      }
    });
    socket.on('error', () => {
      // 'close' follows and carries the outcome
    });
    socket.on('close', () => {
      if (socket === this.#socket) this.#drop('connection closed');
    });
  }

  #onHandshakeError(step: Expected, message: string): void {
    const refused = /^(NOPERM|ERR unknown (command|subcommand))/i.test(message);
    if (refused && step !== 'auth') {
      const command = step === 'client-id' ? 'CLIENT ID' : 'SUBSCRIBE';
      // the events may change the subscription, which restarts the connection itself
      this.#drop(`${command} refused`, false);
      this.#events.refused(command, message);
      return;
    }
    // a wrong password is reported by the command connection, which fails the same way
    this.#drop(step === 'auth' ? 'authentication failed' : `handshake failed (${message.split(' ')[0]})`);
  }

  #onSubscribed(clientId: number | undefined): void {
    clearTimeout(this.#handshakeTimer);
    this.#up = true;
    this.#failures = 0;
    this.#startHeartbeat();
    this.#notifySettled();
    this.#events.up(clientId);
  }

  #onMessage(reply: RespValue): void {
    if (!Array.isArray(reply)) return;
    const [kind, channel, payload] = reply;
    if (kind === 'message' && typeof channel === 'string') this.#events.message(channel, payload ?? null);
    else if (kind === 'pong') clearTimeout(this.#pongTimer);
  }

  #startHeartbeat(): void {
    const { heartbeatIntervalMs, heartbeatTimeoutMs } = this.#options;
    this.#heartbeatTimer = setInterval(() => {
      const socket = this.#socket;
      if (!socket || !this.#up) return;
      clearTimeout(this.#pongTimer);
      this.#pongTimer = setTimeout(() => {
        if (socket === this.#socket) this.#drop(`no answer to the heartbeat within ${heartbeatTimeoutMs} ms`);
      }, heartbeatTimeoutMs);
      this.#pongTimer.unref();
      socket.write(encodeCommand(['PING']));
    }, heartbeatIntervalMs);
    this.#heartbeatTimer.unref();
  }

  /** Ends the current connection; reconnects after a backoff unless closed or `retry` is false. */
  #drop(reason: string, retry = true): void {
    const wasUp = this.#up;
    const hadSocket = this.#socket !== undefined;
    this.#teardown();
    if (hadSocket && !wasUp) this.#failures++;
    this.#notifySettled();
    if (this.#closed) return;
    if (wasUp || hadSocket) this.#events.down(reason);
    if (!retry) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(), this.#backoffMs());
    this.#retryTimer.unref();
  }

  #teardown(): void {
    this.#up = false;
    clearTimeout(this.#handshakeTimer);
    clearInterval(this.#heartbeatTimer);
    clearTimeout(this.#pongTimer);
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy();
  }

  #backoffMs(): number {
    const { minDelayMs, maxDelayMs } = this.#options.reconnect;
    const exp = Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(this.#failures, 20));
    return Math.round(exp / 2 + (Math.random() * exp) / 2);
  }

  #notifySettled(): void {
    for (const resolve of [...this.#settledWaiters]) resolve();
    this.#settledWaiters.clear();
  }
}
