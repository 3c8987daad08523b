import { isIP } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { ClientClosedError, ClientOfflineError, ErrorReply } from '@redis/client';
import { L2PermissionError, L2TimeoutError, L2UnavailableError } from '../../errors.js';
import { describeError } from '../../logger.js';

/** What became of one command: Redis answered (an error reply counts), the deadline passed, or the connection failed. */
export type Outcome = 'answered' | 'timed-out' | 'failed';
export type OutcomeHook = (outcome: Outcome, err?: unknown) => void;

/**
 * Rejects with `L2TimeoutError` if `pending` has not settled within `timeoutMs`. `onOutcome` hears
 * once what happened first: an answer (an error reply counts: Redis answered), a timeout, or a
 * failure of the connection. Whatever happens after the deadline is ignored.
 */
export function withTimeout<T>(pending: Promise<T>, timeoutMs: number, onOutcome?: OutcomeHook): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new L2TimeoutError(timeoutMs));
      onOutcome?.('timed-out');
    }, timeoutMs);
    pending.then(
      (result) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        onOutcome?.('answered');
        resolve(result);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(commandFailure(err, onOutcome));
      },
    );
  });
}

/** The error a caller sees when its command failed before the deadline; tells `onOutcome` which kind. */
export function commandFailure(err: unknown, onOutcome?: OutcomeHook): unknown {
  if (err instanceof ErrorReply) {
    onOutcome?.('answered', err);
    return explainRefusal(err);
  }
  onOutcome?.('failed', err);
  // a lost connection is an outage, which the driver logs once, not a failure of this call
  return new L2UnavailableError('E_L2_UNAVAILABLE', `Redis connection failed: ${describeError(err)}`, {
    cause: err,
  });
}

/** Turns a `NOPERM` error reply into an `L2PermissionError`; any other error is returned unchanged. */
export function explainRefusal(err: unknown): unknown {
  return err instanceof ErrorReply && err.message.startsWith('NOPERM') ? new L2PermissionError(err) : err;
}

/** Whether Redis answered `err` itself (an error reply, a missing permission) rather than the connection failing. */
export function isAnswer(err: unknown): boolean {
  return err instanceof ErrorReply || err instanceof L2PermissionError;
}

/**
 * Whether Redis refused a command for good rather than failing this once: the ACL user lacks the
 * permission, the command is unknown or renamed away (a managed Redis), or scripting is disabled.
 * Retrying cannot help; the caller falls back (plain SETs, pub/sub coherence). A transient error
 * reply (`LOADING`, `BUSY`) is not a refusal.
 */
export function isRefusal(err: unknown): boolean {
  return (
    err instanceof L2PermissionError ||
    (err instanceof ErrorReply &&
      /^NOPERM|unknown command|unknown subcommand|scripting is disabled|not allowed|disabled/i.test(
        err.message,
      ))
  );
}

/** Whether a command that failed with `err` may have reached the socket (node-redis refuses some before sending). */
export function mayHaveLeft(err: L2UnavailableError): boolean {
  return !(err.cause instanceof ClientClosedError || err.cause instanceof ClientOfflineError);
}

/**
 * node-redis socket options for TLS. SNI carries a host name only (RFC 6066): for an IP address it
 * is left out and Node checks the certificate against the IP itself.
 */
export function tlsSocketOptions(host: string, extra: TlsOptions | undefined) {
  return { tls: true as const, ...(isIP(host) ? {} : { servername: host }), ...extra };
}
