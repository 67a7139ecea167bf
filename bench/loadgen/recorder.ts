/**
 * Per-bucket counters and histograms of one agent. A message belongs to the bucket of its
 * scheduled send time, wherever and whenever it is delivered, so delivered/expected and latency
 * are exact per bucket once the stragglers are in (the orchestrator waits for them).
 */
import { encode, type Histogram, newHistogram } from "../lib/histogram.js";
import type { BucketReport } from "./protocol.js";

interface Bucket {
  sent: number;
  expected: number;
  acked: number;
  ackFailed: number;
  delivered: number;
  latency: Histogram;
  ackLatency: Histogram;
}

export class Recorder {
  private readonly buckets = new Map<number, Bucket>();
  delivered = 0;
  sent = 0;
  acked = 0;
  readonly errors: Record<string, number> = {};

  private bucket(index: number): Bucket {
    let bucket = this.buckets.get(index);
    if (!bucket) {
      bucket = { sent: 0, expected: 0, acked: 0, ackFailed: 0, delivered: 0, latency: newHistogram(), ackLatency: newHistogram() };
      this.buckets.set(index, bucket);
    }
    return bucket;
  }

  onSent(index: number, fanout: number): void {
    const bucket = this.bucket(index);
    bucket.sent++;
    bucket.expected += fanout;
    this.sent++;
  }

  onAck(index: number, ok: boolean, latencyUs: number, code?: string): void {
    const bucket = this.bucket(index);
    if (ok) {
      bucket.acked++;
      this.acked++;
      bucket.ackLatency.recordValue(Math.max(1, Math.round(latencyUs)));
    } else {
      bucket.ackFailed++;
      this.error(code ?? "E_UNKNOWN");
    }
  }

  onDelivered(index: number, latencyUs: number): void {
    const bucket = this.bucket(index);
    bucket.delivered++;
    this.delivered++;
    bucket.latency.recordValue(Math.max(1, Math.round(latencyUs)));
  }

  error(code: string): void {
    this.errors[code] = (this.errors[code] ?? 0) + 1;
  }

  report(): BucketReport[] {
    return [...this.buckets.entries()]
      .sort(([a], [b]) => a - b)
      .map(([bucket, b]) => ({
        bucket,
        sent: b.sent,
        expected: b.expected,
        acked: b.acked,
        ackFailed: b.ackFailed,
        delivered: b.delivered,
        latency: encode(b.latency),
        ackLatency: encode(b.ackLatency),
      }));
  }

  reset(): void {
    for (const b of this.buckets.values()) {
      b.latency.destroy();
      b.ackLatency.destroy();
    }
    this.buckets.clear();
    for (const key of Object.keys(this.errors)) delete this.errors[key];
  }
}
