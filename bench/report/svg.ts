/**
 * The chart of docs/performance.md, as a dependency-free SVG: (1) every target as a bar scaled so
 * that the target sits at the same line (left of it = met), with the spread over repetitions as a
 * whisker; (2) B2's latency curve, p99 against offered load, project vs reference.
 */

import type { BenchReport, Verdict } from "./types.js";
import { resultsOf } from "./verdicts.js";

const W = 1120;
const ROW = 26;
const COLORS = { ours: "#1f6feb", ref: "#9a6700", ok: "#1a7f37", bad: "#cf222e", grid: "#d0d7de", text: "#24292f", muted: "#57606a" };

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Position on a 0..2 scale where 1 is the target: "max" targets score value/limit, "min" limit/value. */
function score(v: Verdict, value: number | null): number | null {
  if (value === null) return null;
  if (v.kind === "min") return value <= 0 ? 2 : Math.min(2, v.limit / value);
  if (v.limit === 0) return value === 0 ? 0.05 : 2; // "zero" targets: any count is a miss
  return Math.min(2, value / v.limit);
}

function fmt(x: number | null, unit: string): string {
  if (x === null) return "–";
  const n = Math.abs(x) >= 1000 ? `${Math.round(x / 100) / 10}k` : `${Math.round(x * 100) / 100}`;
  return unit === "×" ? `${n}×` : `${n}${unit ? ` ${unit}` : ""}`;
}

function targetsPanel(verdicts: Verdict[], top: number): string[] {
  const left = 470;
  const width = 260;
  const x = (s: number): number => left + (s / 2) * width;
  const out: string[] = [
    `<text x="10" y="${top}" font-size="15" font-weight="bold" fill="${COLORS.text}">Targets (median of runs; whisker = min–max; left of the line = met)</text>`,
    `<line x1="${x(1)}" y1="${top + 8}" x2="${x(1)}" y2="${top + 14 + verdicts.length * ROW}" stroke="${COLORS.text}" stroke-dasharray="4 3"/>`,
  ];
  verdicts.forEach((v, i) => {
    const y = top + 16 + i * ROW;
    const s = score(v, v.value);
    const color = v.met === null ? COLORS.muted : v.met ? COLORS.ok : COLORS.bad;
    const label = `${v.scenario} ${v.metric}`;
    out.push(
      `<text x="10" y="${y + 14}" font-size="11.5" fill="${COLORS.text}">${esc(label.length > 78 ? `${label.slice(0, 77)}…` : label)}</text>`,
    );
    out.push(`<rect x="${left}" y="${y + 3}" width="${width}" height="15" fill="#f6f8fa"/>`);
    if (s !== null)
      out.push(`<rect x="${left}" y="${y + 3}" width="${Math.max(2, x(s) - left)}" height="15" fill="${color}" opacity="0.85"/>`);
    const lo = score(v, v.min);
    const hi = score(v, v.max);
    if (lo !== null && hi !== null && lo !== hi) {
      out.push(
        `<line x1="${x(Math.min(lo, hi))}" y1="${y + 10.5}" x2="${x(Math.max(lo, hi))}" y2="${y + 10.5}" stroke="${COLORS.text}" stroke-width="1.5"/>`,
      );
    }
    const verdictText = v.met === null ? "not measured" : v.met ? "met" : "NOT met";
    out.push(
      `<text x="${left + width + 10}" y="${y + 14}" font-size="11.5" fill="${color}">${esc(`${fmt(v.value, v.unit)} (target ${v.target}) ${verdictText}`)}</text>`,
    );
  });
  return out;
}

function curvePanel(report: BenchReport, top: number, height: number): string[] {
  const left = 70;
  const width = W - left - 200;
  const series = (["ours", "ref"] as const).map((target) => ({
    target,
    reps: [...resultsOf(report.runs, "B2", target).values()].map((r) => ({
      sustainable: r.pair.sustainable,
      points: r.pair.steps.map((s) => ({ x: s.offered, y: Math.max(0.5, s.latency.p99Ms) })),
    })),
  }));
  const points = series.flatMap((s) => s.reps.flatMap((r) => r.points));
  if (points.length === 0) return [];
  const maxX = Math.max(...points.map((p) => p.x)) * 1.05;
  const [minY, maxY] = [0.5, Math.max(1000, ...points.map((p) => p.y))];
  const px = (v: number): number => left + (v / maxX) * width;
  const py = (v: number): number =>
    top + 20 + height - ((Math.log10(v) - Math.log10(minY)) / (Math.log10(maxY) - Math.log10(minY))) * height;
  const out: string[] = [
    `<text x="10" y="${top}" font-size="15" font-weight="bold" fill="${COLORS.text}">B2 rooms of 2, one worker: p99 delivery latency vs offered msg/s (every step of every run)</text>`,
  ];
  for (let decade = 1; decade <= maxY; decade *= 10) {
    out.push(`<line x1="${left}" y1="${py(decade)}" x2="${left + width}" y2="${py(decade)}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${left - 8}" y="${py(decade) + 4}" font-size="11" text-anchor="end" fill="${COLORS.muted}">${decade} ms</text>`);
  }
  out.push(`<line x1="${left}" y1="${py(50)}" x2="${left + width}" y2="${py(50)}" stroke="${COLORS.bad}" stroke-dasharray="5 4"/>`);
  out.push(`<text x="${left + width + 6}" y="${py(50) + 4}" font-size="11" fill="${COLORS.bad}">SLO 50 ms</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (maxX / 5) * i;
    out.push(
      `<text x="${px(v)}" y="${top + 20 + height + 16}" font-size="11" text-anchor="middle" fill="${COLORS.muted}">${Math.round(v / 100) / 10}k</text>`,
    );
  }
  // Points only: the search visits rates out of order and retries some, so lines would zig-zag.
  // A triangle under the axis marks each run's sustainable rate.
  for (const s of series) {
    const color = COLORS[s.target];
    for (const rep of s.reps)
      for (const p of rep.points) out.push(`<circle cx="${px(p.x)}" cy="${py(p.y)}" r="3" fill="${color}" opacity="0.8"/>`);
    for (const rep of s.reps) {
      if (rep.sustainable <= 0) continue;
      const x = px(rep.sustainable);
      const y = top + 20 + height + 22;
      out.push(`<path d="M ${x} ${y} l -5 9 l 10 0 z" fill="${color}"/>`);
    }
  }
  out.push(
    `<text x="${left}" y="${top + 20 + height + 46}" font-size="11" fill="${COLORS.muted}">▲ sustainable rate found in each run (highest step with p99 ≤ 50 ms, all delivered and acked)</text>`,
  );
  const legendY = top + 30;
  out.push(
    `<rect x="${left + width + 6}" y="${legendY}" width="12" height="12" fill="${COLORS.ours}"/><text x="${left + width + 24}" y="${legendY + 10}" font-size="12" fill="${COLORS.text}">project</text>`,
  );
  out.push(
    `<rect x="${left + width + 6}" y="${legendY + 18}" width="12" height="12" fill="${COLORS.ref}"/><text x="${left + width + 24}" y="${legendY + 28}" font-size="12" fill="${COLORS.text}">reference relay</text>`,
  );
  return out;
}

export function renderSvg(report: BenchReport): string {
  const targetsHeight = 40 + report.verdicts.length * ROW;
  const curveHeight = 240;
  const hasCurve = resultsOf(report.runs, "B2", "ours").size + resultsOf(report.runs, "B2", "ref").size > 0;
  const height = 30 + targetsHeight + (hasCurve ? curveHeight + 100 : 0);
  const title = `cluster-chat benchmarks, ${report.startedAt.slice(0, 16).replace("T", " ")} UTC, ${report.machine.cores} cores, ${report.options.runs} run(s)${report.options.size === "full" ? "" : `, ${report.options.size}`}`;
  const body = [
    `<rect width="${W}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="13" fill="${COLORS.muted}">${esc(title)}</text>`,
    ...targetsPanel(report.verdicts, 48),
    ...(hasCurve ? curvePanel(report, 48 + targetsHeight + 20, curveHeight) : []),
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="-apple-system, Segoe UI, Helvetica, Arial, sans-serif">\n${body.join("\n")}\n</svg>\n`;
}
