import { createRequire } from "node:module";

/**
 * The classes of ws and engine.io that socket.io itself loads, wherever npm placed them: the
 * patches in this folder (reused-arrays.ts, direct-frames.ts) must change the copies socket.io
 * uses. Each patch declares what it touches of their internals, which their typings do not show.
 */
export function socketIoLibraries(): { Receiver: { prototype: object }; EngineSocket: { prototype: object } } {
  const fromSocketIo = createRequire(createRequire(import.meta.url).resolve("socket.io"));
  const fromEngineIo = createRequire(fromSocketIo.resolve("engine.io"));
  return { Receiver: fromEngineIo("ws").Receiver, EngineSocket: fromSocketIo("engine.io").Socket };
}
