import { createClient } from "@redis/client";

/** One command on the Redis (server, sentinel or cluster node) at 127.0.0.1:`port`, on a connection of its own. */
export async function commandOn(port: number, args: string[]): Promise<unknown> {
  const client = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false, connectTimeout: 5000 } });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}
