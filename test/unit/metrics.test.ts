/**
 * A worker's metrics registry (src/lib/metrics.ts): the counters the hot path increments are read
 * when scraped, every series names its worker, and Node's process metrics come along.
 */
import t from "tap";
import { Counters, createMetricsRegistry } from "../../src/lib/metrics.js";

t.test("metrics registry > counters changed after creation > the scrape shows their current values, labelled by worker", async (t) => {
  const counters = new Counters();
  let sockets = 0;
  const registry = createMetricsRegistry(counters, () => sockets);

  counters.messagesStored = 7;
  counters.sendsShed = 2;
  sockets = 3;
  const first = await registry.metrics();
  counters.sendsShed = 5;
  const second = await registry.metrics();

  const worker = `worker="${process.pid}"`;
  t.match(first, `chat_messages_stored_total{${worker}} 7\n`);
  t.match(first, `chat_sends_shed_total{${worker}} 2\n`);
  t.match(first, `chat_sockets{${worker}} 3\n`);
  t.match(first, "# TYPE chat_messages_delivered_total counter");
  t.match(second, `chat_sends_shed_total{${worker}} 5\n`, "a counter is not added up twice across scrapes");
  t.match(second, new RegExp(`process_resident_memory_bytes\\{${worker}\\} \\d+`), "Node's process metrics");
});

t.test("metrics registry > two in one process > each has its own series", async (t) => {
  const a = new Counters();
  const b = new Counters();
  a.httpRequests = 1;
  b.httpRequests = 2;
  const [textA, textB] = await Promise.all([createMetricsRegistry(a, () => 0).metrics(), createMetricsRegistry(b, () => 0).metrics()]);
  t.match(textA, /chat_http_requests_total\{worker="\d+"\} 1\n/);
  t.match(textB, /chat_http_requests_total\{worker="\d+"\} 2\n/);
});
