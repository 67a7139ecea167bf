/**
 * A full garbage collection in another Node process, without its cooperation: SIGUSR1 opens the
 * inspector (127.0.0.1:9229), HeapProfiler.collectGarbage runs a full GC, and node:inspector's
 * close() closes it again. That makes "RSS after GC" possible for any server under test. The
 * pid is checked over the protocol, so a stranger on port 9229 is never touched, and benchmarks
 * running side by side (the bench test files do) take turns through a lock file.
 */
import { open, readFile, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { sleep } from "./time.js";

const INSPECTOR = "http://127.0.0.1:9229";

async function debuggerUrl(): Promise<string | undefined> {
  try {
    const response = await fetch(`${INSPECTOR}/json/list`, { signal: AbortSignal.timeout(1000) });
    const targets = (await response.json()) as { webSocketDebuggerUrl?: string }[];
    return targets[0]?.webSocketDebuggerUrl;
  } catch {
    return undefined;
  }
}

/** Whether port 9229 is free (no inspector answers on it) within `waitMs`. */
async function portFreed(waitMs: number): Promise<boolean> {
  const giveUpAt = Date.now() + waitMs;
  while (await debuggerUrl()) {
    if (Date.now() > giveUpAt) return false;
    await sleep(100);
  }
  return true;
}

interface Session {
  call(method: string, params?: object, timeoutMs?: number): Promise<unknown>;
  close(): void;
}

function session(url: string): Promise<Session> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let next = 1;
    const pending = new Map<number, (value: unknown) => void>();
    ws.on("message", (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { id?: number; result?: unknown };
      if (message.id !== undefined) pending.get(message.id)?.(message.result);
    });
    const opening = setTimeout(() => {
      ws.terminate();
      reject(new Error("inspector did not answer"));
    }, 10_000);
    ws.once("error", (err) => {
      clearTimeout(opening);
      reject(err);
    });
    ws.once("open", () => {
      clearTimeout(opening);
      resolve({
        call: (method, params = {}, timeoutMs = 30_000) =>
          new Promise((done, fail) => {
            const id = next++;
            pending.set(id, done);
            ws.send(JSON.stringify({ id, method, params }));
            setTimeout(() => fail(new Error(`${method} timed out`)), timeoutMs).unref();
          }),
        close: () => ws.close(),
      });
    });
  });
}

export interface GcResult {
  ok: boolean;
  /** process.memoryUsage().heapUsed after the GC, when it ran. */
  heapUsed: number;
}

const FAILED: GcResult = { ok: false, heapUsed: 0 };

/** Runs a full GC in `pid`; ok is false when that was not possible (nothing is changed then). */
async function collectGarbage(pid: number): Promise<GcResult> {
  // A debugger outside this lock (another checkout's benchmark, a developer) may hold the port.
  if (!(await portFreed(PORT_PATIENCE_MS))) return FAILED;
  try {
    process.kill(pid, "SIGUSR1");
  } catch {
    return FAILED;
  }
  let url: string | undefined;
  for (let i = 0; i < 40 && !url; i++) {
    await sleep(50);
    url = await debuggerUrl();
  }
  if (!url) return FAILED;
  const inspector = await session(url).catch(() => undefined);
  if (!inspector) return FAILED;
  try {
    const result = (await inspector.call("Runtime.evaluate", { expression: "process.pid" })) as { result?: { value?: number } };
    if (result.result?.value !== pid) return FAILED;
    await inspector.call("HeapProfiler.collectGarbage");
    const heap = (await inspector.call("Runtime.evaluate", { expression: "process.memoryUsage().heapUsed" })) as {
      result?: { value?: number };
    };
    // Closing the inspector from inside may drop the reply: do not wait long for it.
    await inspector
      .call("Runtime.evaluate", { expression: 'process.getBuiltinModule("node:inspector").close()' }, 500)
      .catch(() => undefined);
    return { ok: true, heapUsed: heap.result?.value ?? 0 };
  } finally {
    inspector.close();
    // The inspector port must be free again before the next process is asked.
    await portFreed(2000);
  }
}

/** How long a caller waits for another benchmark to finish with the inspector port. */
const PORT_PATIENCE_MS = 60_000;
const PORT_LOCK = join(tmpdir(), "cluster-chat-inspector-9229.lock");

/**
 * Holds the lock file naming this process while `work` runs; a lock left by a process that died is
 * taken over. Undefined when the port stayed taken for the whole patience.
 */
async function withInspectorPort<T>(work: () => Promise<T>): Promise<T | undefined> {
  const giveUpAt = Date.now() + PORT_PATIENCE_MS;
  while (!(await takeLock())) {
    if (Date.now() > giveUpAt) return undefined;
    await sleep(100 + Math.floor(Math.random() * 200));
  }
  try {
    return await work();
  } finally {
    await unlink(PORT_LOCK).catch(() => undefined);
  }
}

async function takeLock(): Promise<boolean> {
  try {
    const file = await open(PORT_LOCK, "wx");
    await file.writeFile(String(process.pid));
    await file.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    const owner = Number(await readFile(PORT_LOCK, "utf8").catch(() => ""));
    // An empty file is a lock being written right now; only a dead owner's lock is taken over.
    if (owner > 0 && !processExists(owner)) await unlink(PORT_LOCK).catch(() => undefined);
    return false;
  }
}

/** GC in every pid, one after the other (they share the inspector port); heapUsed is summed. */
export async function collectGarbageAll(pids: readonly number[]): Promise<GcResult> {
  const result = await withInspectorPort(async () => {
    const total: GcResult = { ok: true, heapUsed: 0 };
    for (const pid of pids) {
      const one = await collectGarbage(pid);
      total.ok &&= one.ok;
      total.heapUsed += one.heapUsed;
    }
    return total;
  });
  return result ?? FAILED;
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
