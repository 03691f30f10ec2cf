/**
 * Backup pruning: which backups the schedule keeps, and a command that deletes the rest.
 *
 *   npm run backup:prune -- <BACKUP_DIR> [--dry-run] [--now <ISO time>]
 *
 * The schedule (README, "Backups"): point-in-time recovery for 7 days (binary logs), a daily full
 * backup for 14 days, a weekly one for 8 weeks, a monthly one for 6 months and a yearly one for
 * 1 year. A full backup is kept when any rule wants it; each rule keeps the LAST backup of its
 * period (UTC day, ISO week, month, year) that is still inside the rule's window. The newest
 * backup is never deleted, nor is one dated in the future (a clock that jumped back).
 */
import fs from 'node:fs';
import path from 'node:path';

export const DAY_MS = 86_400_000;

export interface KeepRules {
  pointInTimeDays: number;
  dailyDays: number;
  weeklyWeeks: number;
  monthlyMonths: number;
  yearlyYears: number;
}

export const KEEP_RULES: Readonly<KeepRules> = Object.freeze({ pointInTimeDays: 7, dailyDays: 14, weeklyWeeks: 8, monthlyMonths: 6, yearlyYears: 1 });

export type KeepReason = 'newest' | 'future' | 'daily' | 'weekly' | 'monthly' | 'yearly';

const dayKey = (d: Date) => d.toISOString().slice(0, 10);
const monthKey = (d: Date) => d.toISOString().slice(0, 7);
const yearKey = (d: Date) => d.toISOString().slice(0, 4);

/** ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday), e.g. 2026-W49. */
export function isoWeekKey(d: Date): string {
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day.getTime() - yearStart) / DAY_MS + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

/** `now` minus whole calendar months (clamped to the month's last day, e.g. 31 Aug - 6 months = 28/29 Feb). */
function monthsBefore(now: Date, months: number): Date {
  const d = new Date(now.getTime());
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() - months);
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, last));
  return d;
}

/**
 * Which backups to keep at `now`, each with the reasons. Backups are identified by their time;
 * the result maps the time (ms) of every kept backup to why it stays. Everything else may go.
 */
export function backupsToKeep(times: readonly Date[], now: Date, rules: KeepRules = KEEP_RULES): Map<number, KeepReason[]> {
  const keep = new Map<number, KeepReason[]>();
  const add = (t: number, reason: KeepReason) => keep.set(t, [...(keep.get(t) ?? []), reason]);
  const sorted = [...new Set(times.map((t) => t.getTime()))].sort((a, b) => a - b);
  if (!sorted.length) return keep;
  add(sorted[sorted.length - 1]!, 'newest');

  const windows: Array<{ reason: KeepReason; from: number; key: (d: Date) => string }> = [
    { reason: 'daily', from: now.getTime() - rules.dailyDays * DAY_MS, key: dayKey },
    { reason: 'weekly', from: now.getTime() - rules.weeklyWeeks * 7 * DAY_MS, key: isoWeekKey },
    { reason: 'monthly', from: monthsBefore(now, rules.monthlyMonths).getTime(), key: monthKey },
    { reason: 'yearly', from: monthsBefore(now, rules.yearlyYears * 12).getTime(), key: yearKey },
  ];
  for (const window of windows) {
    // The last backup of each period: later ones overwrite earlier ones of the same key.
    const lastOfPeriod = new Map<string, number>();
    for (const t of sorted) if (t <= now.getTime()) lastOfPeriod.set(window.key(new Date(t)), t);
    for (const t of lastOfPeriod.values()) if (t >= window.from) add(t, window.reason);
  }
  for (const t of sorted) if (t > now.getTime()) add(t, 'future');
  return keep;
}

/** Binary logs are needed back to the start of the point-in-time window only. */
export function binlogsToKeep(files: ReadonlyArray<{ name: string; modified: Date }>, now: Date, rules: KeepRules = KEEP_RULES): Set<string> {
  const from = now.getTime() - rules.pointInTimeDays * DAY_MS;
  return new Set(files.filter((f) => f.modified.getTime() >= from).map((f) => f.name));
}

const BACKUP_NAME = /^kluis-(db|blobs)-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\.(sql|tar)\.gz\.enc$/;

/** The time in a backup's file name, or undefined for a file that is not a complete backup. */
export function backupTimeOf(fileName: string): Date | undefined {
  const m = BACKUP_NAME.exec(fileName);
  if (!m) return undefined;
  const [, , y, mo, d, h, mi, s] = m;
  const t = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  return Number.isNaN(t.getTime()) ? undefined : t;
}

export interface PrunePlan {
  keep: string[];
  remove: string[];
  /** Files pruning leaves alone because they are not backups it understands (or half-written ones). */
  ignored: string[];
}

/** Plans pruning of one folder of full backups (db/ or blobs/). */
export function planFullBackups(fileNames: readonly string[], now: Date, rules: KeepRules = KEEP_RULES): PrunePlan {
  const backups = fileNames.filter((n) => !n.endsWith('.sha256')).map((name) => ({ name, time: backupTimeOf(name) }));
  const kept = backupsToKeep(backups.flatMap((b) => (b.time ? [b.time] : [])), now, rules);
  const plan: PrunePlan = { keep: [], remove: [], ignored: [] };
  for (const b of backups) {
    if (!b.time) plan.ignored.push(b.name);
    else if (kept.has(b.time.getTime())) plan.keep.push(b.name);
    else plan.remove.push(b.name);
  }
  return plan;
}

function listFiles(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((n) => fs.statSync(path.join(dir, n)).isFile());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

function removeWithChecksum(dir: string, name: string): void {
  fs.rmSync(path.join(dir, name), { force: true });
  fs.rmSync(path.join(dir, `${name}.sha256`), { force: true });
}

/** Prunes BACKUP_DIR (db/, blobs/, binlog/); returns what it removed (or would remove with dryRun). */
export function pruneBackupDir(backupDir: string, now: Date, options: { dryRun?: boolean; rules?: KeepRules } = {}): { removed: string[]; kept: string[] } {
  const removed: string[] = [];
  const kept: string[] = [];
  for (const sub of ['db', 'blobs']) {
    const dir = path.join(backupDir, sub);
    const plan = planFullBackups(listFiles(dir), now, options.rules);
    kept.push(...plan.keep.map((n) => path.join(sub, n)));
    for (const name of plan.remove) {
      if (!options.dryRun) removeWithChecksum(dir, name);
      removed.push(path.join(sub, name));
    }
  }
  const binlogDir = path.join(backupDir, 'binlog');
  const binlogs = listFiles(binlogDir)
    .filter((n) => n.endsWith('.enc'))
    .map((name) => ({ name, modified: fs.statSync(path.join(binlogDir, name)).mtime }));
  const keepLogs = binlogsToKeep(binlogs, now, options.rules);
  for (const { name } of binlogs) {
    if (keepLogs.has(name)) kept.push(path.join('binlog', name));
    else {
      if (!options.dryRun) removeWithChecksum(binlogDir, name);
      removed.push(path.join('binlog', name));
    }
  }
  return { removed, kept };
}

function main(argv: string[]): number {
  let dir: string | undefined;
  let dryRun = false;
  let now = new Date();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--dry-run') dryRun = true;
    else if (arg === '--now' && argv[i + 1]) now = new Date(argv[++i]!);
    else if (!arg.startsWith('--') && dir === undefined) dir = arg;
    else {
      console.error(`kluis-backup: unexpected argument "${arg.slice(0, 60)}"; usage: prune.ts <BACKUP_DIR> [--dry-run] [--now <ISO time>]`);
      return 2;
    }
  }
  if (!dir || Number.isNaN(now.getTime())) {
    console.error('kluis-backup: usage: prune.ts <BACKUP_DIR> [--dry-run] [--now <ISO time>]');
    return 2;
  }
  const { removed, kept } = pruneBackupDir(dir, now, { dryRun });
  for (const name of removed) console.log(`${dryRun ? 'would remove' : 'removed'} ${name}`);
  console.log(`kluis-backup: ${kept.length} kept, ${removed.length} ${dryRun ? 'to remove' : 'removed'}.`);
  return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
