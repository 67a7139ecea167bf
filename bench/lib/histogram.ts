/**
 * Latency histograms (HdrHistogram, µs, 3 significant digits, 1 µs to 10 min). Load-generator processes record,
 * encode and ship them; the orchestrator merges them, so percentiles are exact over all processes
 * rather than averages of per-process percentiles.
 */
import hdr from "hdr-histogram-js";

export type Histogram = ReturnType<typeof hdr.build>;

export function newHistogram(): Histogram {
  // 32-bit counters: packed ones cost several times more per recorded value, too much for a
  // fan-out's frame rate (docs/decisions.md).
  return hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
}

export function encode(histogram: Histogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

export function decode(encoded: string): Histogram {
  return hdr.decodeFromCompressedBase64(encoded, 32);
}

/** Merges encoded histograms into one new histogram. */
export function merge(encoded: Iterable<string>): Histogram {
  const total = newHistogram();
  for (const e of encoded) {
    const h = decode(e);
    total.add(h);
    h.destroy();
  }
  return total;
}

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

export function summarize(histogram: Histogram): LatencySummary {
  const ms = (us: number): number => Math.round(us) / 1000;
  if (histogram.totalCount === 0) return { count: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  return {
    count: histogram.totalCount,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    p999Ms: ms(histogram.getValueAtPercentile(99.9)),
    maxMs: ms(histogram.maxValue),
  };
}
