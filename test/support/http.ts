import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import type { CacheRouterOptions } from '../../src/admin/express.js';
import { createCacheRouter } from '../../src/admin/express.js';
import cacheAdmin, { type CacheAdminPluginOptions } from '../../src/admin/fastify.js';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export interface SendOptions {
  headers?: Record<string, string>;
  /** Sent as JSON with Content-Type: application/json. */
  json?: unknown;
  /** Sent as is (with the headers given). */
  raw?: string;
  /** Parse the answer as JSON (default); false for answers the framework itself writes, such as its 404 page. */
  expectJson?: boolean;
}

/** An admin API mounted in a real framework, answering real HTTP requests. */
export interface AdminServer {
  request(method: 'GET' | 'POST', path: string, options?: SendOptions): Promise<HttpAnswer>;
  close(): Promise<void>;
}

export type Adapter = 'fastify' | 'express';

function encode(options: SendOptions): { headers: Record<string, string>; body: string | undefined } {
  const headers = { ...options.headers };
  if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    return { headers, body: JSON.stringify(options.json) };
  }
  return { headers, body: options.raw };
}

/** Fastify through `inject` (its full request pipeline, without a socket). */
async function fastifyServer(options: CacheAdminPluginOptions): Promise<AdminServer> {
  const app = Fastify({ logger: false });
  await app.register(cacheAdmin, options);
  await app.ready();
  return {
    async request(method, path, send = {}) {
      const { headers, body } = encode(send);
      const reply = await app.inject({ method, url: path, headers, payload: body });
      return {
        status: reply.statusCode,
        headers: reply.headers as Record<string, string>,
        body:
          reply.body && send.expectJson !== false ? (JSON.parse(reply.body) as Record<string, unknown>) : {},
      };
    },
    close: () => app.close(),
  };
}

/** Express through a real listening server and fetch. */
async function expressServer(options: CacheRouterOptions): Promise<AdminServer> {
  const app = express();
  app.use(createCacheRouter(options));
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  return {
    async request(method, path, send = {}) {
      const { headers, body } = encode(send);
      const reply = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, body });
      const text = await reply.text();
      return {
        status: reply.status,
        headers: Object.fromEntries(reply.headers.entries()),
        body: text && send.expectJson !== false ? (JSON.parse(text) as Record<string, unknown>) : {},
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Mounts the admin API with `options` in the named framework. */
export function adminServer(
  adapter: Adapter,
  options: CacheAdminPluginOptions & CacheRouterOptions,
): Promise<AdminServer> {
  return adapter === 'fastify' ? fastifyServer(options) : expressServer(options);
}
