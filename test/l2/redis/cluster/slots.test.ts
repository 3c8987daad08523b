import { describe, expect, it } from 'vitest';
import { keyBeside, keySlot, SLOT_COUNT, slotTag } from '../../../../src/l2/redis/cluster/slots.js';

// Values from the Redis Cluster specification and `CLUSTER KEYSLOT` on Redis 7 (the topology suite
// checks more keys against a live cluster).
describe('hash slots', () => {
  it('hashes a key with CRC16 (XMODEM) modulo 16384, as Redis does', () => {
    expect(keySlot('123456789')).toBe(0x31c3 % SLOT_COUNT);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('bar')).toBe(5061);
  });

  it('hashes only the first non-empty {hash tag}, on the UTF-8 bytes', () => {
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('a{b}c{d}')).toBe(keySlot('b'));
    expect(keySlot('a{}b')).not.toBe(keySlot(''));
    // an empty tag makes the whole key count, even with a later tag
    expect(keySlot('a{}b{c}')).not.toBe(keySlot('c'));
    expect(keySlot('{é}x')).toBe(keySlot('é'));
  });

  it('finds a tag for every slot, so that a key can be placed beside any other', () => {
    for (let slot = 0; slot < SLOT_COUNT; slot++) expect(keySlot(slotTag(slot))).toBe(slot);
    // the smallest base-36 number that hashes to the slot: every process, every version, names a
    // slot's shards and leases the same
    for (const slot of [0, 1, 5461, 12182, SLOT_COUNT - 1]) {
      const tag = slotTag(slot);
      let smaller = 0;
      while (keySlot(smaller.toString(36)) !== slot) smaller++;
      expect(smaller.toString(36)).toBe(tag);
    }
    for (const sibling of ['catalog_products_count', 'a}b', '{x}y', 'prix_€']) {
      const beside = keyBeside('__cachette:lease:', sibling);
      expect(beside.endsWith(sibling)).toBe(true);
      expect(keySlot(beside)).toBe(keySlot(sibling));
    }
  });
});
