/**
 * The one place the project reaches past socket.io's documented API, for memory (B4), and pinned
 * to the engine.io line it was written against.
 *
 * engine.io answers a WebSocket upgrade with a stand-in for http.ServerResponse, and a "close"
 * listener it puts on the TCP socket keeps that stand-in, and the stand-in's `req`, for the
 * connection's whole life. socket.io's memory tip (dropping `socket.conn.request`) therefore frees
 * nothing for a WebSocket client: the upgrade request, its headers and parsed URL stay, about
 * 2.5 KB per idle socket. Dropping the stand-in's `req` once the engine middlewares have run lets
 * them go: engine.io reads the request it holds itself, never the stand-in's, after that point.
 */
import { readFileSync } from "node:fs";
import { type IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The engine.io line whose upgrade stand-in this was written for (socket.io 4.8 takes ~6.6.0). */
export const ENGINE_IO_LINE = "6.6.";

/** Lets the upgrade request behind `res` be collected; a no-op for a real response (polling). */
export function forgetUpgradeRequest(res: ServerResponse): void {
  if (!(res instanceof ServerResponse)) (res as { req: IncomingMessage | null }).req = null;
}

/**
 * Refuses to start on another engine.io line: its upgrade stand-in may read `req` later, or keep
 * the request elsewhere, and test/integration/auth.test.ts must say which before it runs here.
 */
export function assertEngineIoLine(version = installedEngineIoVersion()): void {
  if (!version.startsWith(ENGINE_IO_LINE)) {
    throw new Error(
      `engine.io ${version} is installed; src/realtime/upgrade-request.ts was written for ${ENGINE_IO_LINE}x: check it against the new version, then update ENGINE_IO_LINE`,
    );
  }
}

/** The version of the engine.io that socket.io loads (its exports map hides package.json). */
export function installedEngineIoVersion(): string {
  const fromSocketIo = createRequire(createRequire(import.meta.url).resolve("socket.io"));
  let dir = dirname(fromSocketIo.resolve("engine.io"));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "engine.io" && pkg.version) return pkg.version;
    } catch {
      // No package.json at this level: keep climbing.
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error("engine.io's package.json was not found");
    dir = parent;
  }
}
