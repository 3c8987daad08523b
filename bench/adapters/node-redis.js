// The L2 floor: the raw Redis client cachette uses (@redis/client), JSON in and out, nothing else.
import { createClient } from '@redis/client';
import { L2_TTL_S } from './common.js';

export default {
  name: 'node-redis',
  role: 'floor-l2',
  packages: ['@redis/client'],
  config: () =>
    `createClient({ url, commandOptions: { timeout: 0 } }) (no per-command AbortSignal: the cheapest set-up of this client); get = JSON.parse(await client.get(k)); set = client.set(k, JSON.stringify(v), { EX: ${L2_TTL_S} }); getMany = MGET + JSON.parse`,
  async open(o) {
    // node-redis 6 puts a 5 s AbortSignal timer on every command by default; the floor goes without
    const client = createClient({ url: o.url, commandOptions: { timeout: 0 } });
    client.on('error', () => {});
    await client.connect();
    const expiration = { expiration: { type: 'EX', value: L2_TTL_S } };
    return {
      get: async (key) => {
        const text = await client.get(key);
        return text === null ? undefined : JSON.parse(text);
      },
      set: async (key, value) => (await client.set(key, JSON.stringify(value), expiration)) === 'OK',
      getMany: async (keys) =>
        (await client.mGet(keys)).map((text) => (text === null ? undefined : JSON.parse(text))),
      close: () => client.close(),
    };
  },
};
