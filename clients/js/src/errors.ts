/** An error answered by the server (4xx/5xx), or a network failure (status 0). */
export class ReplError extends Error {
  /** HTTP status, 0 for a network failure. */
  readonly status: number;
  /** Short error from the server's `{"error": ...}`. */
  readonly error: string;
  /** Detail from the server's `{"cause": ...}`. */
  override readonly cause: string;
  /** Seconds to wait, from a `Retry-After` header (429/503). */
  readonly retryAfter?: number;

  constructor(status: number, error: string, cause: string, retryAfter?: number) {
    super(cause ? `${error}: ${cause}` : error);
    this.name = 'ReplError';
    this.status = status;
    this.error = error;
    this.cause = cause;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

/**
 * A 403: the token or the backend's subscribe hook does not allow this (e.g. presence without a subscribe grant on the
 * topic, a stream of a user the server API disconnected for a while). A `ReplError`, so `instanceof ReplError` holds.
 */
export class ForbiddenError extends ReplError {
  constructor(error: string, cause: string, retryAfter?: number) {
    super(403, error, cause, retryAfter);
    this.name = 'ForbiddenError';
  }
}

/**
 * The topic has presence off (`{"error":"presence off"}`): a 404 from `presence()` / `presenceStats()`, a 400 for a
 * stream asked with presence events. Turn it on with `PATCH /topics/{name} {"presence":true}` or the node's
 * `Topics:Presence`.
 */
export class PresenceOffError extends ReplError {
  constructor(status: number, cause: string) {
    super(status, 'presence off', cause);
    this.name = 'PresenceOffError';
  }
}

/** Parse a Retry-After header value (delta-seconds or HTTP-date) into seconds. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^[0-9]+$/.test(v)) return parseInt(v, 10);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** Build a ReplError from a non-2xx response. */
export async function errorFromResponse(res: Response): Promise<ReplError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    /* ignore */
  }
  let error = '';
  let cause = '';
  if (text) {
    try {
      const body = JSON.parse(text) as unknown;
      if (body && typeof body === 'object') {
        const b = body as Record<string, unknown>;
        if (typeof b.error === 'string') error = b.error;
        if (typeof b.cause === 'string') cause = b.cause;
        else if (b.cause != null) cause = JSON.stringify(b.cause);
      }
    } catch {
      cause = text.length > 500 ? text.slice(0, 500) + '…' : text;
    }
  }
  if (!error) error = res.statusText || `HTTP ${res.status}`;
  const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
  if (error === 'presence off') return new PresenceOffError(res.status, cause);
  if (res.status === 403) return new ForbiddenError(error, cause, retryAfter);
  return new ReplError(res.status, error, cause, retryAfter);
}
