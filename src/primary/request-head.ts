/**
 * Just enough HTTP/1.1 framing for the primary to know when it has read a connection's whole first
 * request, and which engine.io session it names. The worker's HTTP parser validates everything else.
 */

/** Node's default limit on a request's line and headers (--max-http-header-size). */
export const MAX_HEAD_BYTES = 16 * 1024;

export type FirstRequest =
  /** Not all of it has arrived yet. */
  | { state: "partial" }
  /** `length` bytes of the buffer make up the request; `sessionId` is its engine.io `sid`, if any. */
  | { state: "complete"; length: number; sessionId: string | undefined }
  /** The primary answers this status itself and closes the connection. */
  | { state: "refused"; status: 400 | 413 | 431 };

const HEAD_END = Buffer.from("\r\n\r\n");
const LINE_END = Buffer.from("\r\n");

/** Whether `buffer` holds a whole request head (its line and headers). */
export function hasHead(buffer: Buffer): boolean {
  return buffer.includes(HEAD_END);
}

/**
 * Where the first request in `buffer` ends. A client sends nothing more on the connection until it
 * has the answer (no pipelining, and the worker closes every connection after one response), so once
 * the primary has the whole request it can hand the connection over without losing any bytes.
 */
export function firstRequest(buffer: Buffer, maxBodyBytes: number): FirstRequest {
  const headEnd = buffer.indexOf(HEAD_END);
  if (headEnd === -1) return buffer.length > MAX_HEAD_BYTES ? { state: "refused", status: 431 } : { state: "partial" };
  if (headEnd > MAX_HEAD_BYTES) return { state: "refused", status: 431 };
  const [requestLine = "", ...fields] = buffer.subarray(0, headEnd).toString("latin1").split("\r\n");
  const sessionId = /[?&]sid=([^&\s#]+)/.exec(requestLine.split(" ")[1] ?? "")?.[1];
  const framing = bodyFraming(fields);
  if (framing === "invalid") return { state: "refused", status: 400 };
  const bodyStart = headEnd + HEAD_END.length;
  if (framing === "chunked") {
    const end = chunkedBodyEnd(buffer, bodyStart, maxBodyBytes);
    return typeof end === "number" ? { state: "complete", length: end, sessionId } : end;
  }
  if (framing > maxBodyBytes) return { state: "refused", status: 413 };
  const length = bodyStart + framing;
  return buffer.length >= length ? { state: "complete", length, sessionId } : { state: "partial" };
}

/** The body's length (0 without one), "chunked", or "invalid" where HTTP/1.1 forbids the combination. */
function bodyFraming(fields: readonly string[]): number | "chunked" | "invalid" {
  let contentLength: string | undefined;
  let transferEncoding: string | undefined;
  for (const field of fields) {
    const colon = field.indexOf(":");
    if (colon === -1) continue;
    const name = field.slice(0, colon).trim().toLowerCase();
    const value = field.slice(colon + 1).trim();
    if (name === "content-length") {
      if (contentLength !== undefined && contentLength !== value) return "invalid";
      contentLength = value;
    } else if (name === "transfer-encoding") {
      transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
    }
  }
  if (transferEncoding !== undefined) {
    // Both headers at once is how requests are smuggled past a proxy: refuse it, as Node does.
    if (contentLength !== undefined) return "invalid";
    return /(^|,)\s*chunked\s*$/i.test(transferEncoding) ? "chunked" : "invalid";
  }
  if (contentLength === undefined) return 0;
  return /^\d{1,15}$/.test(contentLength) ? Number(contentLength) : "invalid";
}

/** The end of a chunked body that starts at `start`: each chunk is `<hex size>[;ext]\r\n<data>\r\n`, the last `0\r\n[trailers]\r\n`. */
function chunkedBodyEnd(buffer: Buffer, start: number, maxBodyBytes: number): number | FirstRequest {
  let at = start;
  let total = 0;
  for (;;) {
    const lineEnd = buffer.indexOf(LINE_END, at);
    if (lineEnd === -1) return buffer.length - at > MAX_HEAD_BYTES ? { state: "refused", status: 400 } : { state: "partial" };
    const sizeField = buffer.subarray(at, lineEnd).toString("latin1").split(";")[0]?.trim() ?? "";
    if (!/^[0-9a-f]{1,8}$/i.test(sizeField)) return { state: "refused", status: 400 };
    const size = Number.parseInt(sizeField, 16);
    if (size === 0) {
      // No trailers: the blank line follows at once; else the trailers end with one.
      if (buffer.length < lineEnd + 4) return { state: "partial" };
      if (buffer[lineEnd + 2] === 0x0d && buffer[lineEnd + 3] === 0x0a) return lineEnd + 4;
      const trailersEnd = buffer.indexOf(HEAD_END, lineEnd);
      return trailersEnd === -1 ? { state: "partial" } : trailersEnd + HEAD_END.length;
    }
    total += size;
    if (total > maxBodyBytes) return { state: "refused", status: 413 };
    at = lineEnd + LINE_END.length + size + LINE_END.length;
    if (at > buffer.length) return { state: "partial" };
  }
}
