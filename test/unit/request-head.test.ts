/**
 * How the primary knows it has read a connection's whole first request (src/primary/request-head.ts):
 * it hands the connection over only then, and refuses what no worker would accept.
 */
import t from "tap";
import { firstRequest, MAX_HEAD_BYTES } from "../../src/primary/request-head.js";

const of = (text: string) => firstRequest(Buffer.from(text, "latin1"), 1000);

t.test("request head > a GET without a body > complete at the blank line, with its session id", async (t) => {
  const text = "GET /socket.io/?EIO=4&transport=polling&sid=3.abc_DEF-1 HTTP/1.1\r\nHost: x\r\n\r\n";
  t.same(of(text), { state: "complete", length: text.length, sessionId: "3.abc_DEF-1" });
  t.same(of("GET / HTTP/1.1\r\nHost: x\r\n"), { state: "partial" }, "no blank line yet");
  const referred = "GET /?x=1 HTTP/1.1\r\nReferer: /?sid=9.a\r\n\r\n";
  t.same(of(referred), { state: "complete", length: referred.length, sessionId: undefined }, "only the request target counts");
});

t.test("request head > a body with Content-Length > complete once the body is all there", async (t) => {
  const head = "POST /api/login HTTP/1.1\r\ncontent-LENGTH: 5\r\n\r\n";
  t.same(of(`${head}{"a"`), { state: "partial" });
  t.same(of(`${head}{"a"}`), { state: "complete", length: head.length + 5, sessionId: undefined });
  t.same(of("POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"), { state: "refused", status: 413 }, "larger than the limit");
  t.same(of("POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n"), { state: "refused", status: 400 });
  t.same(of("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), { state: "refused", status: 400 });
});

t.test("request head > a chunked body > complete after the last chunk and its trailers", async (t) => {
  const head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  t.same(of(`${head}3\r\nabc\r\n`), { state: "partial" });
  const plain = `${head}3\r\nabc\r\n0\r\n\r\n`;
  t.same(of(`${plain}GET`), { state: "complete", length: plain.length, sessionId: undefined });
  const trailed = `${head}3;x=y\r\nabc\r\n0\r\nX: 1\r\n\r\n`;
  t.same(of(`${trailed}GET`), { state: "complete", length: trailed.length, sessionId: undefined });
  t.same(of(`${head}zz\r\n`), { state: "refused", status: 400 }, "not a hex size");
  t.same(of(`${head}3e9\r\n`), { state: "refused", status: 413 }, "larger than the limit");
  t.same(of("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), { state: "refused", status: 400 }, "not chunked last");
  t.same(
    of("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
    { state: "refused", status: 400 },
    "both: smuggling",
  );
});

t.test("request head > a head that never ends > refused past Node's header limit", async (t) => {
  t.same(of(`GET / HTTP/1.1\r\nX: ${"y".repeat(MAX_HEAD_BYTES)}`), { state: "refused", status: 431 });
  t.same(of(`GET / HTTP/1.1\r\nX: ${"y".repeat(MAX_HEAD_BYTES)}\r\n\r\n`), { state: "refused", status: 431 });
});
