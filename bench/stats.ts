/**
 * Small statistics and formatting helpers shared by the benchmarks, plus the shape of a printed
 * figure. Figures are only ever printed: a benchmark on a shared machine is too noisy to fail a
 * build on, so each one is set against a baseline taken in the same run instead.
 */

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Percentile by linear interpolation between closest ranks (the "R-7" method numpy and most
 * spreadsheets use), so p50 of an even-sized sample is the mean of the two middle values.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (sorted.length === 1) return sorted[0]!;
  const rank = (p / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/** One line of the summary table. `ratio` is value / baseline.value, printed, never judged. */
export interface Figure {
  benchmark: string;
  metric: string;
  value: number;
  unit: 'ms' | 's' | 'MB' | 'chunks/s' | 'turns/s' | 'count';
  baseline?: { label: string; value: number };
  note?: string;
}

export interface BenchContext {
  /** Smaller sizes, for a smoke run. */
  quick: boolean;
  /** Progress lines, printed as they happen. */
  log: (line: string) => void;
}

export interface BenchResult {
  figures: Figure[];
  /** Anything a reader of the figures should know: what was measured, and anything unexpected. */
  notes: string[];
}

export function ratio(figure: Figure): number | undefined {
  if (!figure.baseline || !Number.isFinite(figure.baseline.value) || figure.baseline.value === 0) return undefined;
  return figure.value / figure.baseline.value;
}

export function formatValue(value: number, unit: Figure['unit']): string {
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'ms':
      return `${value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0)} ms`;
    case 's':
      return `${value.toFixed(2)} s`;
    case 'MB':
      return `${value.toFixed(1)} MB`;
    case 'chunks/s':
      return `${value.toFixed(0)} chunks/s`;
    case 'turns/s':
      return `${value.toFixed(1)} turns/s`;
    case 'count':
      return String(Math.round(value));
  }
}

export function formatRatio(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)}x`;
}

/** Plain-text table with left-aligned columns; wide enough for any cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n');
}

/**
 * A seeded generator (mulberry32), so the synthetic corpus and the question order are the same
 * in every run and two runs measure the same work.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
