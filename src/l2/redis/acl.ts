import { ErrorReply } from '@redis/client';
import { CacheError } from '../../errors.js';

/**
 * Redis refused a command because the ACL user lacks a permission (a `NOPERM` reply): a deployment
 * mistake rather than an outage, so the message says what to grant. It carries Redis's own reply
 * (which names the command, key or channel and never the password) and keeps it as `cause`.
 */
export class L2PermissionError extends CacheError {
  constructor(reply: ErrorReply) {
    super(
      'E_L2_NOPERM',
      `the Redis user lacks a permission cachette needs (${reply.message}); grant it with the ACL rule in README "ACL users"`,
      { cause: reply },
    );
  }
}

/** Turns a `NOPERM` error reply into an `L2PermissionError`; any other error is returned unchanged. */
export function explainRefusal(err: unknown): unknown {
  return err instanceof ErrorReply && err.message.startsWith('NOPERM') ? new L2PermissionError(err) : err;
}
