/**
 * `node dist/bench/idle-host.js [--server PATH] [--seconds N] [--typing N] [--churn N]
 * [--bystanders N] [--room-max N]`: what a host pays for the typing and presence changes of the
 * rest of the deployment. Two hosts of one worker on one Redis; 50 sockets on host 1 in one room
 * type at `--typing` events/s in total, then sockets of other users connect and disconnect at
 * `--churn` changes/s. Host 2 has no clients, or `--bystanders` sockets of users who share only
 * `#general` with the others (in a room of their own). `--room-max` sets PRESENCE_ROOM_MAX on
 * both hosts. Prints host 2's CPU per event above its quiet CPU (an equal window with nothing
 * happening). `--server` takes another build's dist/src/main.js, to compare before and after.
 */
import { parseArgs } from "node:util";
import { io, type Socket } from "socket.io-client";
import { type Account, logInAll, userName } from "./lib/accounts.js";
import { cpuBetween } from "./lib/proc.js";
import { startRedis } from "./lib/redis-server.js";
import { type RunningTarget, startTarget } from "./lib/target.js";
import { sleep } from "./lib/time.js";

const TYPISTS = 50;
const CHURNERS = 100;
const ROOM = "#idle-host-typing";
const BYSTANDERS_ROOM = "#idle-host-bystanders";

interface Window {
  events: number;
  idleCpuUs: number;
  seconds: number;
}

function open(url: string, account: Account): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ["websocket"], extraHeaders: { cookie: account.cookie }, reconnection: false });
    socket.once("welcome", () => resolve(socket));
    socket.once("connect_error", reject);
  });
}

/** Host 2's CPU while `act` runs for `seconds`; `act` returns how many events it caused. */
async function window(idle: RunningTarget, seconds: number, act: (until: number) => Promise<number>): Promise<Window> {
  const a = idle.sample();
  const started = Date.now();
  const events = await act(started + seconds * 1000);
  const b = idle.sample();
  return { events, idleCpuUs: cpuBetween(a, b), seconds: (Date.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      server: { type: "string" },
      seconds: { type: "string", default: "10" },
      typing: { type: "string", default: "1000" },
      churn: { type: "string", default: "40" },
      bystanders: { type: "string", default: "0" },
      "room-max": { type: "string" },
    },
  });
  const bystanders = Number(values.bystanders);
  const seconds = Number(values.seconds);
  const typingRate = Number(values.typing);
  const churnRate = Number(values.churn);
  const redis = await startRedis();
  // Every typing event goes out: the interval per socket and conversation would throttle the load.
  const env = { TYPING_INTERVAL_MS: "0", ...(values["room-max"] === undefined ? {} : { PRESENCE_ROOM_MAX: values["room-max"] }) };
  const start = (host: string) =>
    startTarget({
      kind: "ours",
      script: values.server,
      workers: 1,
      redisUrl: redis.url,
      redisPrefix: "idle:",
      env: { ...env, INSTANCE_HOST: host },
    });
  const loaded = await start("host1");
  const idle = await start("host2");
  const sockets: Socket[] = [];
  try {
    const accounts = await logInAll(
      loaded.url,
      Array.from({ length: TYPISTS + CHURNERS + bystanders }, (_, i) => userName(i)),
      { concurrency: 8 },
    );
    const typists = await Promise.all(accounts.slice(0, TYPISTS).map((account) => open(loaded.url, account)));
    const watching = await Promise.all(accounts.slice(TYPISTS + CHURNERS).map((account) => open(idle.url, account)));
    sockets.push(...typists, ...watching);
    await Promise.all(typists.map((socket) => socket.timeout(5000).emitWithAck("room:join", { room: ROOM })));
    await Promise.all(watching.map((socket) => socket.timeout(5000).emitWithAck("room:join", { room: BYSTANDERS_ROOM })));
    let told = 0;
    for (const socket of watching) {
      socket.on("presence:update", () => told++);
      socket.on("presence:changes", ({ online, offline }) => {
        told += online.length + offline.length;
      });
    }
    await sleep(3000); // the joins' presence changes settle

    const quiet = await window(idle, seconds, async (until) => {
      await sleep(until - Date.now());
      return 0;
    });
    const typing = await window(idle, seconds, async (until) => {
      let sent = 0;
      const perTick = typingRate / 100;
      let owed = 0;
      while (Date.now() < until) {
        owed += perTick;
        for (; owed >= 1; owed--) typists[sent++ % TYPISTS]?.emit("typing", { to: ROOM });
        await sleep(10);
      }
      return sent;
    });
    told = 0;
    const presence = await window(idle, seconds, async (until) => {
      let changes = 0;
      let next = 0;
      const gap = 2000 / churnRate; // each connect and each disconnect is a change
      while (Date.now() < until) {
        const account = accounts[TYPISTS + (next++ % CHURNERS)] as Account;
        const socket = await open(loaded.url, account);
        changes++;
        setTimeout(() => socket.close(), gap / 2);
        changes++;
        await sleep(gap);
      }
      return changes;
    });
    const toldDuringChurn = told;
    const perEvent = (w: Window) => Math.max(0, w.idleCpuUs - (quiet.idleCpuUs * w.seconds) / quiet.seconds) / Math.max(1, w.events);
    const report = {
      server: values.server ?? "this build",
      quietIdleCores: quiet.idleCpuUs / 1e6 / quiet.seconds,
      typing: {
        events: typing.events,
        perSec: typing.events / typing.seconds,
        idleCores: typing.idleCpuUs / 1e6 / typing.seconds,
        idleCpuUsPerEvent: perEvent(typing),
      },
      presence: {
        changes: presence.events,
        perSec: presence.events / presence.seconds,
        idleCores: presence.idleCpuUs / 1e6 / presence.seconds,
        idleCpuUsPerChange: perEvent(presence),
        bystanders,
        bystanderNotices: toldDuringChurn,
      },
    };
    process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
  } finally {
    for (const socket of sockets) socket.close();
    await loaded.stop();
    await idle.stop();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
