import { parseArgs } from 'node:util';
import type { Cache } from '../cache.js';
import { parseRedisUrl, redactSecrets, redactUrl } from '../config/redis-target.js';
import { CacheConfigError, CacheKeyError, CLI_EXIT, CliFailure } from '../errors.js';
import { createCache } from '../index.js';
import { describeError, type Logger } from '../logger.js';
import { type CommandOptions, clear, flush, keys, type Outcome, ping, stats } from './commands.js';
import { readConfigFile } from './config-file.js';
import { redisFailure, usage } from './failure.js';
import { COMMANDS, type CommandName, helpText } from './help.js';

/** Where the CLI writes, and the environment and directory it reads (tests pass their own). */
export interface CliIo {
  env: Record<string, string | undefined>;
  /** Where `cachette.config.json` is looked for, and `--config` resolved from. Default `process.cwd()`. */
  cwd?: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const GLOBAL_OPTIONS = ['url', 'timeout', 'json', 'help', 'config', 'prefix'];

/**
 * A CLI command needs no more than this per Redis call: more than the application's 250 ms
 * (a SCAN of a big keyspace on a busy Redis), still bounded. `CACHE_OPERATION_TIMEOUT_MS` wins.
 */
const CLI_OPERATION_TIMEOUT_MS = 2000;

const PARSE_OPTIONS = {
  url: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  config: { type: 'string' },
  prefix: { type: 'string' },
  db: { type: 'string' },
  pattern: { type: 'string' },
  key: { type: 'string' },
  tag: { type: 'string', multiple: true },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  scope: { type: 'string' },
  yes: { type: 'boolean' },
} as const;

interface Invocation {
  command: CommandName | undefined;
  json: boolean;
  help: boolean;
  url: string | undefined;
  timeoutMs: number | undefined;
  /** `--config`: the config file to read instead of `cachette.config.json`. */
  config: string | undefined;
  /** `--prefix`: the app's key prefix, over the config file's and `CACHE_KEY_PREFIX`. */
  prefix: string | undefined;
  options: CommandOptions;
}

function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(COMMANDS, name);
}

/** Parses argv (without `node` and the script); throws a usage `CliFailure`. */
function parse(argv: string[]): Invocation {
  let values: ReturnType<
    typeof parseArgs<{ options: typeof PARSE_OPTIONS; allowPositionals: true }>
  >['values'];
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: PARSE_OPTIONS, allowPositionals: true }));
  } catch (err) {
    throw usage(err instanceof Error ? err.message : String(err));
  }
  const json = values.json === true;
  const [name, ...extra] = positionals;
  const help = values.help === true;
  if (name === undefined || name === 'help') {
    if (help || name === 'help')
      return {
        command: undefined,
        json,
        help: true,
        url: undefined,
        timeoutMs: undefined,
        config: undefined,
        prefix: undefined,
        options: {},
      };
    throw usage('no command given; run `cachette --help` for the list');
  }
  if (!isCommand(name))
    throw usage(`unknown command ${JSON.stringify(name)}; run \`cachette --help\` for the list`);
  if (extra.length > 0) {
    // a URL given without --url may hold a password: never echo it
    const shown = extra[0]!.includes('://') ? redactUrl(extra[0]!) : extra[0]!;
    throw usage(`unexpected argument ${JSON.stringify(shown)} after ${name} (a Redis URL goes after --url)`);
  }
  const allowed: readonly string[] = [...GLOBAL_OPTIONS, ...COMMANDS[name].options];
  const stray = Object.keys(values).find((option) => !allowed.includes(option));
  if (stray !== undefined && !help) {
    throw usage(`${name} does not take --${stray}; run \`cachette ${name} --help\``);
  }
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    timeoutMs = /^\d+$/.test(values.timeout) ? Number(values.timeout) : 0;
    if (timeoutMs < 1)
      throw usage(`--timeout must be a whole number of ms >= 1, got ${JSON.stringify(values.timeout)}`);
  }
  const { db, pattern, key, tag, limit, cursor, scope, yes } = values;
  return {
    command: name,
    json,
    help,
    url: values.url,
    timeoutMs,
    config: values.config,
    prefix: values.prefix,
    options: { db, pattern, key, tag, limit, cursor, scope, yes },
  };
}

/** The password of the Redis URL the CLI will use, to make sure no message prints it. */
function passwordIn(argv: string[], env: CliIo['env']): string | undefined {
  const at = argv.findIndex((arg) => arg === '--url' || arg.startsWith('--url='));
  const url = at === -1 ? env.REDIS_URL : argv[at]!.startsWith('--url=') ? argv[at]!.slice(6) : argv[at + 1];
  try {
    return url ? parseRedisUrl(url).password : undefined;
  } catch {
    return undefined;
  }
}

/** Keeps the driver's outage warning (already free of the password) to say why Redis is unreachable. */
function reasonKeeper(): Logger & { reason(): string | undefined } {
  let last: string | undefined;
  const keep = (obj: object | string) => {
    if (typeof obj === 'object' && 'err' in obj && typeof obj.err === 'string') last = obj.err;
  };
  const ignore = () => {};
  return { debug: ignore, info: ignore, warn: keep, error: keep, reason: () => last };
}

/**
 * Connects once, with the app's domains and key prefix (config file, `--prefix`): a refused or
 * failing connection is reported at once, a silent one after the connect timeout.
 */
async function connect(invocation: Invocation, io: CliIo): Promise<Cache> {
  const log = reasonKeeper();
  const file = readConfigFile(invocation.config, io.cwd ?? process.cwd());
  let cache: Cache;
  try {
    if (invocation.url !== undefined) parseRedisUrl(invocation.url, '--url');
    cache = createCache({
      ...file.options,
      keyPrefix: invocation.prefix ?? file.options.keyPrefix,
      redisUrl: invocation.url,
      env: io.env,
      logger: log,
      connectTimeoutMs: invocation.timeoutMs,
      operationTimeoutMs: io.env.CACHE_OPERATION_TIMEOUT_MS ? undefined : CLI_OPERATION_TIMEOUT_MS,
    });
  } catch (err) {
    if (err instanceof CacheConfigError) throw usage(err.message);
    throw err;
  }
  // INFO waits for the first connection attempt only, not for the reconnections after it
  if ((await cache.serverInfo()) === false) {
    const { url, state } = cache.status().l2;
    const reason = log.reason();
    await cache.close();
    throw redisFailure(`cannot reach Redis at ${url}: ${reason ?? `no answer (state: ${state})`}`);
  }
  return cache;
}

async function execute(
  command: Exclude<CommandName, 'warm'>,
  cache: Cache,
  options: CommandOptions,
): Promise<Outcome> {
  switch (command) {
    case 'stats':
      return stats(cache);
    case 'keys':
      return keys(cache, options);
    case 'clear':
      return clear(cache, options);
    case 'ping':
      return ping(cache);
    case 'flush':
      return flush(cache, options);
  }
}

/** Runs the CLI; resolves to the exit code. Never rejects: every failure is printed. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  let json = argv.includes('--json');
  const secret = passwordIn(argv, io.env);
  try {
    const invocation = parse(argv);
    json = invocation.json;
    if (invocation.help) {
      io.stdout(`${helpText(invocation.command)}\n`);
      return CLI_EXIT.ok;
    }
    const command = invocation.command!;
    if (command === 'warm') {
      throw usage(
        'warm is not available from the command line: warming tasks are functions registered in the application (CacheWarmingService.registerTask) and run there; see `cachette warm --help`',
      );
    }
    const cache = await connect(invocation, io);
    try {
      const outcome = await execute(command, cache, invocation.options);
      io.stdout(`${json ? JSON.stringify(outcome.json) : outcome.text}\n`);
      return CLI_EXIT.ok;
    } finally {
      await cache.close();
    }
  } catch (err) {
    const failure =
      err instanceof CliFailure
        ? err
        : err instanceof CacheKeyError
          ? usage(err.message)
          : redisFailure(`unexpected error: ${describeError(err)}`);
    const message = redactSecrets(failure.message, secret);
    if (json) io.stdout(`${JSON.stringify({ ok: false, error: { code: failure.code, message } })}\n`);
    io.stderr(`cachette: ${message}\n`);
    return failure.exitCode;
  }
}
