import { CliFailure } from '../errors.js';

/** A usage failure (bad arguments or configuration): exit 2. */
export function usage(message: string): CliFailure {
  return new CliFailure('E_CLI_USAGE', message);
}

/** Redis was unreachable or the operation failed: exit 1. */
export function redisFailure(message: string): CliFailure {
  return new CliFailure('E_CLI_REDIS', message);
}
