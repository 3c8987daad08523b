/** The CLI's commands, with the options each accepts besides the global ones. */
export const COMMANDS = {
  stats: { options: [] },
  keys: { options: ['db', 'pattern', 'limit', 'cursor'] },
  clear: { options: ['db', 'pattern', 'key', 'tag'] },
  flush: { options: ['scope', 'yes'] },
  ping: { options: [] },
  warm: { options: [] },
} as const;

export type CommandName = keyof typeof COMMANDS;

const GLOBAL = `Global options:
  --url <redis-url>   Redis to use (default: REDIS_URL, else redis://127.0.0.1:6379/0)
  --config <file>     the app's domains and key prefix (default: ./cachette.config.json if present)
  --prefix <prefix>   the app's key prefix (default: the config file's keyPrefix, else CACHE_KEY_PREFIX)
  --timeout <ms>      how long to wait for the connection (default: REDIS_CONNECT_TIMEOUT_MS, else 5000)
  --json              print one JSON document on stdout (errors too), for scripts
  -h, --help          this help`;

const HELP: Record<CommandName | 'main', string> = {
  main: `Usage: cachette <command> [options]

Operations on the Redis tier of a cachette cache, configured like the application (REDIS_URL and
the other environment variables of docs/configuration.md). An application with its own domains or
a key prefix describes them in cachette.config.json, with createCache()'s option names:
  {"keyPrefix": "reports:", "builtinDomains": false,
   "domains": {"reports": {"prefix": "reports_", "ttl": "10m"}}}
Every command sees and touches only the keys under that prefix.

Commands:
  stats    Redis facts (version, memory, clients) and keys per domain
  keys     list a domain's keys with their remaining TTL
  clear    delete one key, the keys matching a pattern, or a whole domain
  flush    delete every cache key (--scope app) or the whole Redis database (--scope database)
  ping     check that Redis answers, and how fast
  warm     (explains why warming runs inside the application)

Run \`cachette <command> --help\` for a command's options.

${GLOBAL}

Exit codes: 0 success, 1 Redis unreachable or the operation failed, 2 bad usage or configuration.`,

  stats: `Usage: cachette stats [--json]

Redis version, uptime, memory (used and limit), connected clients, keyspace hits and misses, and
the keys of each domain (counted by a SCAN of at most 50 ms, extrapolated on big databases).
Hit rates per process are in the application's GET /stats and metrics, not here: this process
has served no cache calls.

${GLOBAL}`,

  keys: `Usage: cachette keys --db <domain> [--pattern <glob>] [--limit <n>] [--cursor <c>] [--json]

Lists the keys of one domain (names and remaining TTL, never values), by SCAN.
  --db <domain>       the domain (dbType), e.g. catalog
  --pattern <glob>    Redis glob on the part after the domain prefix (default *)
  --limit <n>         most keys to list (default 100); the last line gives the cursor to go on
  --cursor <c>        go on from a previous listing

${GLOBAL}`,

  clear: `Usage: cachette clear --db <domain> [--pattern <glob> | --key <key>] [--json]
       cachette clear --tag <tag> [--tag <tag>…] [--json]

Deletes cache entries in Redis (SCAN + UNLINK, confined to the domain's prefix):
  --db <domain>       the domain (dbType), e.g. catalog; alone: every key of the domain
  --pattern <glob>    only the keys matching this Redis glob (after the prefix)
  --key <key>         only this key
  --tag <tag>         every value stored with this tag, in every domain (repeatable)

Processes' in-memory L1 copies expire by their short L1 TTL (CACHE_L1_TTL).

${GLOBAL}`,

  flush: `Usage: cachette flush --scope app|database --yes [--json]

For deployments and migrations (the "total" invalidation strategy):
  --scope app         every key of every configured domain (SCAN + UNLINK per prefix)
  --scope database    FLUSHDB: the whole Redis database, other applications' keys too
  --yes               required: confirms the flush

${GLOBAL}`,

  ping: `Usage: cachette ping [--json]

Connects, asks Redis for INFO, prints its version and the round trip in ms.

${GLOBAL}`,

  warm: `Usage: cachette warm

Not available from the command line: warming tasks are functions of the application, registered
with CacheWarmingService.registerTask(), and run inside it (warmCriticalCaches() at start-up,
startPeriodicWarming() every 5 minutes). A separate process has no task to run.

${GLOBAL}`,
};

/** The help text of `command`, or of the CLI as a whole. */
export function helpText(command?: CommandName): string {
  return HELP[command ?? 'main'];
}
