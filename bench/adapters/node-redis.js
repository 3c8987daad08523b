// The L2 floor: the raw Redis client cachette uses (@redis/client), JSON in and out, nothing else.
// Reference rows show the cheaper sendCommand path and exactly what cachette sends, so that the
// price of each of cachette's guarantees can be read off the same run.
import { createClient } from '@redis/client';
import { LRUCache } from 'lru-cache';
import { WRITE_SCRIPT, WRITE_SCRIPT_SHA } from '../../dist/l2/redis/write-scripts.js';
import { L1_TTL_S, L2_TTL_S, l1Bounds } from './common.js';

const TTL = String(L2_TTL_S);
/** The write deadline cachette's script is given: its default operation timeout ahead. */
const DEADLINE_MS = 250;

const parse = (text) => (text === null ? undefined : JSON.parse(text));

export default {
  name: 'node-redis',
  role: 'floor-l2',
  packages: ['@redis/client'],
  config: () =>
    `createClient({ url, commandOptions: { timeout: 0 } }) (no per-command AbortSignal: the cheapest set-up of this client); get = JSON.parse(await client.get(k)); set = client.set(k, JSON.stringify(v), { EX: ${L2_TTL_S} }); getMany = MGET + JSON.parse. ` +
    "Reference rows: the same through client.sendCommand (node-redis's cheapest path), GET + PTTL (what cachette's L2 read sends: the PTTL caps the L1 TTL by Redis's) and EVALSHA of cachette's deadline-guarded write script (what cachette's set sends: a write that reaches Redis after its deadline is dropped); " +
    "'+ L1 fill' rows add what any two-level cache does on top: keep the text in an lru-cache bounded like cachette's L1 (10 000 entries, 64 MiB, 5 s), the two floors' costs together, without cachette's guarantees (deadline, breaker, coherence guard, metrics)",
  async open(o) {
    // node-redis 6 puts a 5 s AbortSignal timer on every command by default; the floor goes without
    const client = createClient({ url: o.url, commandOptions: { timeout: 0 } });
    client.on('error', () => {});
    await client.connect();
    await client.sendCommand(['SCRIPT', 'LOAD', WRITE_SCRIPT]);
    const { maxBytes, maxEntries } = l1Bounds(o);
    const l1 = new LRUCache({ max: maxEntries, maxSize: maxBytes, ttl: L1_TTL_S * 1000, allowStale: false });
    const keep = (key, text) => l1.set(key, text, { size: text.length + key.length + 64 });
    // what cachette sends for an L2 read (the PTTL caps its L1 copy) and for a write
    const getWithTtl = async (key) =>
      (await Promise.all([client.sendCommand(['GET', key]), client.sendCommand(['PTTL', key])]))[0];
    const mgetWithTtls = async (keys) =>
      (
        await Promise.all([
          client.sendCommand(['MGET', ...keys]),
          Promise.all(keys.map((key) => client.sendCommand(['PTTL', key]))),
        ])
      )[0];
    const guardedWrite = (key, text) =>
      client.sendCommand([
        'EVALSHA',
        WRITE_SCRIPT_SHA,
        '1',
        key,
        String(Date.now() + DEADLINE_MS),
        text,
        TTL,
      ]);
    const expiration = { expiration: { type: 'EX', value: L2_TTL_S } };
    return {
      get: async (key) => parse(await client.get(key)),
      set: async (key, value) => (await client.set(key, JSON.stringify(value), expiration)) === 'OK',
      getMany: async (keys) => (await client.mGet(keys)).map(parse),
      getOrSet: async (key, factory) => {
        const found = parse(await client.get(key));
        if (found !== undefined) return found;
        const made = await factory();
        await client.set(key, JSON.stringify(made), expiration);
        return made;
      },
      delete: async (key) => (await client.del(key)) === 1,
      close: () => client.close(),
      references: {
        get: [
          ['GET via sendCommand', async (key) => parse(await client.sendCommand(['GET', key]))],
          ['GET + PTTL via sendCommand (what cachette sends)', async (key) => parse(await getWithTtl(key))],
          [
            'GET + PTTL + L1 fill (the two floors together)',
            async (key) => {
              const text = await getWithTtl(key);
              if (text === null) return undefined;
              const value = JSON.parse(text);
              keep(key, text);
              return value;
            },
          ],
        ],
        getMany: [
          [
            'MGET + a PTTL per key (what cachette sends)',
            async (keys) => (await mgetWithTtls(keys)).map(parse),
          ],
          [
            'MGET + PTTLs + L1 fill (the two floors together)',
            async (keys) =>
              (await mgetWithTtls(keys)).map((text, i) => {
                if (text === null) return undefined;
                const value = JSON.parse(text);
                keep(keys[i], text);
                return value;
              }),
          ],
        ],
        set: [
          [
            'SET … EX via sendCommand',
            async (key, value) =>
              (await client.sendCommand(['SET', key, JSON.stringify(value), 'EX', TTL])) === 'OK',
          ],
          [
            'EVALSHA of the deadline-guarded write script (what cachette sends)',
            async (key, value) => (await guardedWrite(key, JSON.stringify(value))) === 1,
          ],
          [
            'EVALSHA + L1 fill (the two floors together)',
            async (key, value) => {
              const text = JSON.stringify(value);
              const applied = (await guardedWrite(key, text)) === 1;
              if (applied) keep(key, text);
              return applied;
            },
          ],
        ],
      },
    };
  },
};
