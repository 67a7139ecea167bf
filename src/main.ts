import cluster from "node:cluster";
import { loadConfig } from "./config.js";
import { ConfigError } from "./lib/errors.js";
import { createLogger } from "./lib/logger.js";
import { RedisNotInstalledError } from "./primary/local-redis.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  if (cluster.isPrimary) {
    for (const warning of config.warnings) log.warn(warning);
    const { runPrimary } = await import("./primary/index.js");
    await runPrimary(config, log);
  } else {
    const { runWorker } = await import("./worker/index.js");
    process.on("uncaughtException", (err) => {
      log.fatal({ err }, "worker crashed");
      process.exit(1);
    });
    process.on("unhandledRejection", (err) => {
      log.fatal({ err }, "unhandled rejection in worker");
      process.exit(1);
    });
    await runWorker(config, log);
  }
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof RedisNotInstalledError) {
    console.error(err.message);
  } else {
    console.error(err);
  }
  process.exit(1);
});
