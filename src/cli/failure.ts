import { CacheError } from '../errors.js';

/** Exit codes of the CLI. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Why a CLI command stopped: `E_CLI_USAGE` (bad arguments or configuration, exit 2) or
 * `E_CLI_REDIS` (Redis unreachable or the operation failed, exit 1). Messages never hold a password.
 */
export class CliFailure extends CacheError {
  readonly exitCode: number;

  constructor(code: 'E_CLI_USAGE' | 'E_CLI_REDIS', message: string) {
    super(code, message);
    this.exitCode = code === 'E_CLI_USAGE' ? EXIT.usage : EXIT.failed;
  }
}

export function usage(message: string): CliFailure {
  return new CliFailure('E_CLI_USAGE', message);
}

export function redisFailure(message: string): CliFailure {
  return new CliFailure('E_CLI_REDIS', message);
}
