import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * What an admin request wants to do; the `authorize` hook decides per action. `read-server` is
 * asked on each allowed `/stats`: where Redis is (URL with host, port, user, database) and the
 * server's `INFO` facts are added to the answer only when it is allowed.
 */
export type AdminAction = 'read-stats' | 'read-server' | 'read-keys' | 'clear';

/**
 * What `authorize` answers: `true`/`false`, or an object that also says who asked (for the clear
 * log) or why not (status 401 when the caller should authenticate, 403 when it may not; default 403).
 */
export type AuthDecision = boolean | AuthAllowed | AuthRefused;

/** An `authorize` answer that lets the request through. */
export interface AuthAllowed {
  /** Allowed. */
  allow: true;
  /** Who asked, for the clear log (default `admin-token`). */
  who?: string;
}

/** An `authorize` answer that refuses the request. */
export interface AuthRefused {
  /** Refused. */
  allow: false;
  /** 401 when the caller should authenticate, 403 when it may not; default 403. */
  status?: 401 | 403;
  /** Said in the answer's body. */
  message?: string;
}

/** Decides whether `request` (the framework's own request object) may perform `action`. */
export type AuthorizeHook<R> = (request: R, action: AdminAction) => AuthDecision | Promise<AuthDecision>;

/** A decision in one shape, as the handlers use it. */
export type Verdict =
  | { allow: true; who: string }
  | { allow: false; status: 401 | 403; message: string; challenge: boolean };

/** How a deployment turns the admin endpoints on, quoted in 403 answers. */
export const HOW_TO_ENABLE =
  'set CACHE_ADMIN_TOKEN (or the adminToken option) and send "Authorization: Bearer <token>"';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * The default policy: `/stats` is open (counters and states); the Redis details of `/stats`,
 * `/keys` and `/clear` need `Authorization: Bearer <token>`.
 * Both sides are hashed before `timingSafeEqual`, so neither the token nor its length leaks through timing.
 */
export function bearerTokenPolicy(token: string | undefined) {
  const expected = token ? digest(token) : undefined;
  return (authorization: string | undefined, action: AdminAction): Verdict => {
    if (action === 'read-stats') return { allow: true, who: 'anonymous' };
    if (!expected) {
      return {
        allow: false,
        status: 403,
        challenge: false,
        message: `the cache admin endpoints /keys and /clear are disabled: ${HOW_TO_ENABLE}`,
      };
    }
    const presented = /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (presented === undefined) {
      return {
        allow: false,
        status: 401,
        challenge: true,
        message: 'this endpoint needs an "Authorization: Bearer <CACHE_ADMIN_TOKEN>" header',
      };
    }
    if (!timingSafeEqual(digest(presented), expected)) {
      return { allow: false, status: 401, challenge: true, message: 'the admin token is not valid' };
    }
    return { allow: true, who: 'admin-token' };
  };
}

/** Brings any `AuthDecision` into the `Verdict` shape. */
export function toVerdict(decision: AuthDecision): Verdict {
  if (decision === true) return { allow: true, who: 'authorized' };
  if (decision === false) return { allow: false, status: 403, challenge: false, message: 'not allowed' };
  if (decision.allow) return { allow: true, who: decision.who ?? 'authorized' };
  const status = decision.status ?? 403;
  return { allow: false, status, challenge: status === 401, message: decision.message ?? 'not allowed' };
}
