import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { PROJECT_ROOT } from "../../src/lib/paths.js";
import { freePort } from "./redis.js";

export interface TestHaproxy {
  url: string;
  stop(): Promise<void>;
}

/**
 * The shipped deploy/haproxy.cfg with only its addresses changed: the frontend on a free loopback
 * port, one `server` line per backend. Started under `ulimit -n 20000`, the open-files limit the
 * shipped config must fit in.
 */
export async function startHaproxy(backends: readonly string[]): Promise<TestHaproxy> {
  const shipped = readFileSync(join(PROJECT_ROOT, "deploy/haproxy.cfg"), "utf8");
  const port = await freePort();
  const servers = backends.map((url, i) => `    server host${i + 1} ${new URL(url).host} cookie host${i + 1}`).join("\n");
  let serversPlaced = false;
  const config = shipped
    .replace(/^(\s*)bind :8080$/m, `$1bind 127.0.0.1:${port}`)
    .split("\n")
    .flatMap((line) => {
      if (!/^\s*server host\d/.test(line)) return [line];
      if (serversPlaced) return [];
      serversPlaced = true;
      return [servers];
    })
    .join("\n");
  if (!config.includes(`bind 127.0.0.1:${port}`) || !serversPlaced)
    throw new Error("deploy/haproxy.cfg no longer has the lines the test adapts");
  const dir = mkdtempSync(join(tmpdir(), "chat-haproxy-"));
  const file = join(dir, "haproxy.cfg");
  writeFileSync(file, config);

  const child: ChildProcess = spawn("bash", ["-c", 'ulimit -n 20000 && exec haproxy -db -f "$0"', file], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break;
    if (await accepts(port)) {
      return {
        url: `http://127.0.0.1:${port}`,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGTERM");
            await exited;
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await sleep(25);
  }
  child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`haproxy did not start with the shipped config: ${stderr.slice(-2000)}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
