import type { ErrorBody, ErrorCode } from "./error-codes.js";

export type { ErrorBody, ErrorCode } from "./error-codes.js";

const HTTP_STATUS: Record<ErrorCode, number> = {
  E_UNAUTHORIZED: 401,
  E_INVALID: 400,
  E_TOO_LONG: 413,
  E_RATE_LIMITED: 429,
  E_NOT_FOUND: 404,
  E_FORBIDDEN: 403,
  E_CONFLICT: 409,
  E_UNAVAILABLE: 503,
  E_INTERNAL: 500,
};

/** An expected, client-facing failure: its code and message are safe to send over the wire. */
export class AppError extends Error {
  override readonly name = "AppError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds after which a retry may succeed (rate limits). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

export const invalid = (message: string): AppError => new AppError("E_INVALID", message);

/**
 * What a Redis outage looks like to a client: stores throw the Redis client's own errors, and each
 * edge (the ack envelope, the HTTP error handler, the handshake) turns those into this.
 */
export const storageUnavailable = (): AppError => new AppError("E_UNAVAILABLE", "storage is unavailable, retry shortly", 1);

/** Thrown by loadConfig with every problem found, so an operator fixes them all in one go. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

/** Turns anything thrown into a client-safe body; unknown errors never leak their message. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof AppError) return err.toBody();
  return { code: "E_INTERNAL", message: "internal error" };
}
