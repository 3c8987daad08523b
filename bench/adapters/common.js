// What every adapter shares: the TTLs and L1 bounds all libraries are configured with.

/** L2 (Redis) time to live of every value, in seconds. */
export const L2_TTL_S = 3600;
/** L1 time to live in seconds where a library has a separate one (cachette's default). */
export const L1_TTL_S = 5;
/** L1 entry bound (cachette's default). */
export const L1_MAX_ENTRIES = 10_000;
/** L1 byte bound (cachette's default, 64 MiB). */
export const L1_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The adapter interface, one file per library in this folder:
 *
 *   export default {
 *     name, role,              // role: 'subject' | 'peer' | 'floor-l1' | 'floor-l2'
 *     packages: [...],         // npm packages whose versions are printed with the results
 *     config(options) -> text  // the configuration, printed with the results
 *     open(options) -> Promise<{
 *       get(key), set(key, value), getMany(keys), getOrSet(key, factory), delete(key), close(),
 *       l1?(),        // { entries, bytes } of the L1, where the library tells
 *       breaker?(),   // 'closed' | 'open' | 'half-open', where the library tells
 *     }>
 *   }
 *
 * `options`: { url, host, port, l1MaxBytes?, l1MaxEntries?, l1EquivalentEntries?, faults? }.
 * `faults: true` (Redis-down scenario) turns on what a library offers against an unavailable Redis.
 * Every instance uses a fresh L1.
 */
export function l1Bounds(options) {
  return {
    maxBytes: options.l1MaxBytes ?? L1_MAX_BYTES,
    maxEntries: options.l1MaxEntries ?? L1_MAX_ENTRIES,
    /** The entry bound for libraries that cannot bound bytes (see the memory scenario). */
    entriesOnly: options.l1EquivalentEntries ?? options.l1MaxEntries ?? L1_MAX_ENTRIES,
  };
}
