/**
 * The stable error codes of the wire protocol (docs/protocol.md). Clients switch on these,
 * so a code is never renamed or reused; this file has no imports so the browser bundle can share it.
 */
export const ERROR_CODES = [
  "E_UNAUTHORIZED",
  "E_INVALID",
  "E_TOO_LONG",
  "E_RATE_LIMITED",
  "E_NOT_FOUND",
  "E_FORBIDDEN",
  "E_CONFLICT",
  "E_UNAVAILABLE",
  "E_INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The JSON body of every HTTP error and the `error` of every failed socket ack. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
}
