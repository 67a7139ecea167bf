// tap starts each test file with the loaders of the plugins it was last built with, and rebuilds
// for a changed plugin list only after loading them. package.json swaps tap's ts-node plugin for
// tsx, so a fresh install is rebuilt here, before its first run rather than during it.
import { execFileSync } from "node:child_process";
import { TapConfig } from "@tapjs/config";
import { signature } from "@tapjs/test";

const config = await TapConfig.load();
if (config.pluginSignature !== signature) execFileSync("tap", ["build"], { stdio: "inherit" });
