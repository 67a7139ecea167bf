import { AppError, storageUnavailable } from "../lib/errors.js";
import { isRedisUnavailable } from "../store/outages.js";

interface BodyParserError {
  type?: string;
  status?: number;
}

/**
 * The client-facing form of anything a route or middleware threw: an AppError as it is, a Redis
 * outage (stores throw the client's own errors) as E_UNAVAILABLE, a body the parser refused as
 * E_TOO_LONG or E_INVALID. Undefined for a bug, which the caller logs and answers E_INTERNAL.
 */
export function toAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (isRedisUnavailable(err)) return storageUnavailable();
  const parserError = err as BodyParserError;
  if (parserError.type === "entity.too.large") return new AppError("E_TOO_LONG", "request body too large");
  if (parserError.type === "entity.parse.failed") return new AppError("E_INVALID", "malformed JSON body");
  if (typeof parserError.status === "number" && parserError.status >= 400 && parserError.status < 500) {
    return new AppError("E_INVALID", "bad request");
  }
  return undefined;
}
