import { BlockList, isIP } from "node:net";
import type { RequestHandler } from "express";
import { AppError } from "../lib/errors.js";

/** Express's (proxy-addr's) named ranges, so one vocabulary serves TRUST_PROXY and METRICS_ALLOW. */
const NAMED: Record<string, [address: string, bits: number, family: "ipv4" | "ipv6"][]> = {
  loopback: [
    ["127.0.0.0", 8, "ipv4"],
    ["::1", 128, "ipv6"],
  ],
  linklocal: [
    ["169.254.0.0", 16, "ipv4"],
    ["fe80::", 10, "ipv6"],
  ],
  uniquelocal: [
    ["10.0.0.0", 8, "ipv4"],
    ["172.16.0.0", 12, "ipv4"],
    ["192.168.0.0", 16, "ipv4"],
    ["fc00::", 7, "ipv6"],
  ],
};

/** Whether an address is in a list of addresses, CIDR ranges and named ranges (validated by config.ts). */
export function addressMatcher(entries: readonly string[]): (address: string | undefined) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const named = NAMED[entry];
    if (named) {
      for (const [address, bits, family] of named) list.addSubnet(address, bits, family);
      continue;
    }
    const [address = "", bits] = entry.split("/");
    const family = isIP(address) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return (raw) => {
    if (raw === undefined) return false;
    // A dual-stack socket names IPv4 clients as IPv4-mapped IPv6 addresses.
    const address = raw.startsWith("::ffff:") && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 6 ? "ipv6" : "ipv4");
  };
}

/**
 * Serves a route only to connections from these addresses. The connection's own address, never
 * X-Forwarded-For: a proxy in front (HAProxy) must deny the route itself, as the shipped config does.
 */
export function onlyFrom(entries: readonly string[]): RequestHandler {
  const allowed = addressMatcher(entries);
  return (req, _res, next) => {
    if (allowed(req.socket.remoteAddress)) return next();
    next(new AppError("E_FORBIDDEN", "not served to this address"));
  };
}
