/** Base class of every error cachette throws; `code` is stable and safe to match on. */
export class CacheError extends Error {
  /** Stable identifier of the error, such as `E_CACHE_KEY`: match on it rather than on the message. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A key, pattern or dbType the caller passed is unusable: a programming error, always thrown. */
export class CacheKeyError extends CacheError {
  constructor(message: string) {
    super('E_CACHE_KEY', message);
  }
}

/** The configuration (options or environment) is invalid; thrown by `createCache()`. */
export class CacheConfigError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CONFIG', message, options);
  }
}

/** A value cannot be stored (unserialisable, too large, or refused); reported, never thrown by `set`. */
export class CacheValueError extends CacheError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CACHE_VALUE', message, options);
  }
}

/** `getOrSet` gave up waiting for a factory after `hardTimeoutMs` and had no stale value to serve. */
export class FactoryTimeoutError extends CacheError {
  /** The Redis key whose factory was too slow. */
  readonly key: string;
  /** The `hardTimeoutMs` that passed, in ms. */
  readonly timeoutMs: number;

  constructor(key: string, timeoutMs: number) {
    super(
      'E_FACTORY_TIMEOUT',
      `cachette: the factory for ${key} did not settle within ${timeoutMs} ms (hardTimeoutMs) and no stale value was available`,
    );
    this.key = key;
    this.timeoutMs = timeoutMs;
  }
}

/** A destructive call lacks its explicit confirmation (`flushAll({ scope: 'database' })` without `confirm: true`). */
export class ConfirmationRequiredError extends CacheError {
  constructor(message: string) {
    super('E_CONFIRMATION_REQUIRED', message);
  }
}

/** Raised when L2 is not connected; the call is skipped at once instead of being queued. */
export class L2UnavailableError extends CacheError {
  constructor(code = 'E_L2_UNAVAILABLE', message = 'Redis is not connected', options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Raised while the circuit breaker is open: the call skipped L2 without touching the socket. */
export class L2BreakerOpenError extends L2UnavailableError {
  constructor() {
    super('E_L2_BREAKER_OPEN', 'Redis circuit breaker is open; L2 skipped');
  }
}

/** Raised when Redis did not answer within the operation deadline. */
export class L2TimeoutError extends CacheError {
  constructor(timeoutMs: number, message = `Redis did not answer within ${timeoutMs} ms`) {
    super('E_L2_TIMEOUT', message);
  }
}

/**
 * Redis refused a command because the ACL user lacks a permission (a `NOPERM` reply): a deployment
 * mistake rather than an outage, so the message says what to grant. It carries Redis's own reply
 * (which names the command, key or channel and never the password) and keeps it as `cause`.
 */
export class L2PermissionError extends CacheError {
  constructor(reply: Error) {
    super(
      'E_L2_NOPERM',
      `the Redis user lacks a permission cachette needs (${reply.message}); grant it with the ACL rule in docs/topologies.md "ACL users"`,
      { cause: reply },
    );
  }
}

/** A command sent through `command()` on a cluster names no key to route it by. */
export class L2RoutingError extends CacheError {
  constructor(command: string) {
    super(
      'E_L2_CLUSTER_ROUTE',
      `${command} names no key, so Redis Cluster cannot route it; send it to every primary with commandOnPrimaries`,
    );
  }
}

/** A `keys()` cursor that this cache did not hand out (or that names no hash slot of a cluster). */
export class L2CursorError extends CacheError {
  constructor(message: string) {
    super('E_L2_CURSOR', message);
  }
}

/** The subscriber connection received bytes that are not a RESP reply; the connection is dropped. */
export class RespProtocolError extends CacheError {
  constructor(message: string) {
    super('E_RESP_PROTOCOL', message);
  }
}

/** A warming task did not settle within its `timeoutMs`; reported in the warming report and metrics. */
export class WarmingTimeoutError extends CacheError {
  constructor(timeoutMs: number) {
    super('E_WARMING_TIMEOUT', `timed out after ${timeoutMs} ms`);
  }
}

/** Bad input from an admin request (HTTP or CLI); answered 400 with the name of the offending field. */
export class AdminInputError extends CacheError {
  readonly field: string;

  constructor(field: string, message: string) {
    super('E_ADMIN_INPUT', message);
    this.field = field;
  }
}

/** Exit codes of the `cachette` command. */
export const CLI_EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Why a CLI command stopped: `E_CLI_USAGE` (bad arguments or configuration, exit 2) or
 * `E_CLI_REDIS` (Redis unreachable or the operation failed, exit 1). Messages never hold a password.
 */
export class CliFailure extends CacheError {
  readonly exitCode: number;

  constructor(code: 'E_CLI_USAGE' | 'E_CLI_REDIS', message: string) {
    super(code, message);
    this.exitCode = code === 'E_CLI_USAGE' ? CLI_EXIT.usage : CLI_EXIT.failed;
  }
}
