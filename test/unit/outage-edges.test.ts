/**
 * Stores let the Redis client's errors through; the edges that answer clients turn an outage into
 * E_UNAVAILABLE. The outage here is a real node-redis client's own error: a client that was never
 * connected refuses every command as closed, as it does while Redis is unreachable.
 */
import { Writable } from "node:stream";
import { createClient } from "@redis/client";
import { pino } from "pino";
import t from "tap";
import { toAppError } from "../../src/http/errors.js";
import { AppError } from "../../src/lib/errors.js";
import type { Ack } from "../../src/realtime/events.js";
import { answer } from "../../src/realtime/with-ack.js";
import { isRedisUnavailable } from "../../src/store/outages.js";

interface LogLine {
  level: number;
  msg: string;
}

/** pino's numeric levels: 20 debug, 40 warn, 50 error. */
const ERROR_LEVEL = 50;

/** A debug-level logger whose lines are kept for the test to read. */
function capturedLog() {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)) as LogLine);
      done();
    },
  });
  return { log: pino({ level: "debug" }, sink), lines };
}

/** The error a closed node-redis client rejects a command with. */
async function outageError(): Promise<unknown> {
  const client = createClient({ url: "redis://127.0.0.1:9" });
  return client.get("k").then(
    () => undefined,
    (err: unknown) => err,
  );
}

async function envelopeOf(failure: unknown) {
  const { log, lines } = capturedLog();
  const replies: Ack<unknown>[] = [];
  await answer(
    log,
    "history:fetch",
    (reply: Ack<unknown>) => replies.push(reply),
    () => Promise.reject(failure),
  );
  return { replies, lines };
}

t.test("ack envelope > a Redis outage > E_UNAVAILABLE, logged below error level", async (t) => {
  const err = await outageError();
  t.ok(isRedisUnavailable(err), `the client's own error counts as an outage (${String(err)})`);
  const { replies, lines } = await envelopeOf(err);
  t.same(replies, [{ ok: false, error: { code: "E_UNAVAILABLE", message: "storage is unavailable, retry shortly" } }]);
  t.equal(lines.filter((line) => line.level >= ERROR_LEVEL).length, 0, "not logged as a failed handler");
  t.equal(lines.length, 1, "one debug line");
});

t.test("ack envelope > a bug > E_INTERNAL without its message, logged as an error", async (t) => {
  const { replies, lines } = await envelopeOf(new TypeError("cannot read properties of undefined"));
  t.same(replies, [{ ok: false, error: { code: "E_INTERNAL", message: "internal error" } }]);
  t.same(
    lines.map((line) => line.level),
    [ERROR_LEVEL],
  );
});

t.test("ack envelope > an AppError > sent as it is, not logged", async (t) => {
  const { replies, lines } = await envelopeOf(new AppError("E_FORBIDDEN", "join #x first"));
  t.same(replies, [{ ok: false, error: { code: "E_FORBIDDEN", message: "join #x first" } }]);
  t.equal(lines.length, 0);
});

t.test("HTTP error mapping > a Redis outage > 503 E_UNAVAILABLE with a retry after 1 s; a bug > none", async (t) => {
  const unavailable = toAppError(await outageError());
  t.equal(unavailable?.code, "E_UNAVAILABLE");
  t.equal(unavailable?.status, 503);
  t.equal(unavailable?.retryAfter, 1);
  t.equal(unavailable?.message, "storage is unavailable, retry shortly");
  t.equal(toAppError(new TypeError("a bug")), undefined, "left for the handler to log and answer E_INTERNAL");
});
