import { AppError } from "./errors.js";

/** Bounds the password hashes one worker runs at once. */
export interface HashGate {
  /**
   * Runs `work` if fewer than the maximum run now; otherwise refuses at once (E_RATE_LIMITED),
   * because each hash holds 32 MiB and a thread of libuv's small pool: queueing them would let a
   * password spray take the worker's memory and delay every other file and DNS operation.
   */
  run<T>(work: () => Promise<T>): Promise<T>;
  /** Hashes running now. */
  inFlight(): number;
}

export function createHashGate(max: number): HashGate {
  let running = 0;
  return {
    async run(work) {
      if (running >= max) throw new AppError("E_RATE_LIMITED", "server busy, retry shortly", 1);
      running++;
      try {
        return await work();
      } finally {
        running--;
      }
    },
    inFlight: () => running,
  };
}
