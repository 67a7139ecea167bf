import { setFlagsFromString } from "node:v8";

/**
 * Keeps the primary's young generation at V8's initial size (1 MB per semi-space) instead of
 * letting it grow to 16 MB.
 *
 * Why: the primary's garbage is per connection, and part of it lives in malloc (buffers and
 * their backing stores), freed only when a scavenge collects the object that owns it. With a young
 * generation grown to 16 MB, a connect storm of 10,000 sockets left glibc's main heap with 10.9 MB
 * free in about 1,200 holes between live chunks, which glibc keeps resident for ever (it returns
 * only the top of its heap): 0.9 KB per socket in B4. Scavenging a small young generation more
 * often frees those buffers before the holes form (1.2 MB free instead). It costs the primary
 * more scavenges: in a reconnect storm its GC time went from about 12 % to 20 % of its busy time
 * (docs/performance.md, B4).
 *
 * The growth factor is read whenever V8 would grow the young generation, so it can be set once V8
 * runs; the maximum size cannot. Workers keep V8's default: they scavenge per message, and a
 * smaller young generation cost them 18 % of B2's throughput ("Tried and not kept").
 */
export function keepYoungGenerationSmall(): void {
  setFlagsFromString("--semi-space-growth-factor=1");
}
