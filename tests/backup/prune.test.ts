/** Backup pruning: which backups the schedule keeps on given dates, and the command on a real folder. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backupsToKeep, backupTimeOf, binlogsToKeep, DAY_MS, isoWeekKey, planFullBackups, pruneBackupDir } from '../../infra/backup/prune';

const ROOT = path.resolve(__dirname, '..', '..');
const at = (iso: string) => new Date(iso);
const nameAt = (d: Date) => `kluis-db-${d.toISOString().slice(0, 19).replace(/[-:]/g, '')}Z.sql.gz.enc`;

/** One backup every day at 02:00 UTC from `from` through `to`. */
function dailyBackups(from: string, to: string): Date[] {
  const out: Date[] = [];
  for (let t = at(`${from}T02:00:00Z`).getTime(); t <= at(`${to}T02:00:00Z`).getTime(); t += DAY_MS) out.push(new Date(t));
  return out;
}

const keptDays = (kept: Map<number, unknown>) => [...kept.keys()].sort((a, b) => a - b).map((t) => new Date(t).toISOString().slice(0, 10));

describe('backupsToKeep: the schedule of daily 14 days, weekly 8 weeks, monthly 6 months, yearly 1 year', () => {
  const now = at('2026-12-06T03:00:00Z');
  const backups = dailyBackups('2024-11-01', '2026-12-06');
  const kept = backupsToKeep(backups, now);

  it('keeps every daily backup of the last 14 days, and not the one of 14 days + 1 hour ago unless another rule wants it', () => {
    for (let i = 0; i < 14; i++) expect(kept.get(at('2026-12-06T02:00:00Z').getTime() - i * DAY_MS)).toContain('daily');
    // 2026-11-22 02:00 is 14 days and 1 hour before now: outside the daily window.
    expect(kept.get(at('2026-11-22T02:00:00Z').getTime()) ?? []).not.toContain('daily');
    expect(kept.get(at('2026-11-23T02:00:00Z').getTime())).toContain('daily');
  });

  it('keeps the last backup of each ISO week for 8 weeks (Sundays here)', () => {
    const weekly = [...kept].filter(([, r]) => r.includes('weekly')).map(([t]) => new Date(t));
    expect(weekly.every((d) => d.getUTCDay() === 0 || d.toISOString().startsWith('2026-12-06'))).toBe(true);
    // 2026-10-11 02:00 is 8 weeks and 1 hour before now: just outside.
    expect(weekly.map((d) => d.toISOString().slice(0, 10)).sort()).toEqual(['2026-10-18', '2026-10-25', '2026-11-01', '2026-11-08', '2026-11-15', '2026-11-22', '2026-11-29', '2026-12-06']);
  });

  it('keeps the last backup of each month for 6 months and of each year for 1 year', () => {
    const monthly = [...kept].filter(([, r]) => r.includes('monthly')).map(([t]) => new Date(t).toISOString().slice(0, 10)).sort();
    expect(monthly).toEqual(['2026-06-30', '2026-07-31', '2026-08-31', '2026-09-30', '2026-10-31', '2026-11-30', '2026-12-06']);
    const yearly = [...kept].filter(([, r]) => r.includes('yearly')).map(([t]) => new Date(t).toISOString().slice(0, 10)).sort();
    // 2025-12-31 is within a year of now; 2024-12-31 is not.
    expect(yearly).toEqual(['2025-12-31', '2026-12-06']);
  });

  it('keeps nothing else: older dailies, weeks past 8 and months past 6 go', () => {
    expect(keptDays(kept)).toEqual(
      [
        '2025-12-31',
        '2026-06-30', '2026-07-31', '2026-08-31', '2026-09-30',
        '2026-10-18', '2026-10-25', '2026-10-31', '2026-11-01', '2026-11-08', '2026-11-15',
        ...dailyBackups('2026-11-22', '2026-12-06').map((d) => d.toISOString().slice(0, 10)),
      ].sort(),
    );
    expect(kept.has(at('2024-12-31T02:00:00Z').getTime())).toBe(false);
    expect(kept.has(at('2026-05-31T02:00:00Z').getTime())).toBe(false);
  });

  it('moves with the date: a month later the June backup is gone and November stays', () => {
    const later = backupsToKeep(backups, at('2027-01-06T03:00:00Z'));
    expect(later.has(at('2026-06-30T02:00:00Z').getTime())).toBe(false);
    expect(later.get(at('2026-11-30T02:00:00Z').getTime())).toContain('monthly');
    // A month old: no longer a daily, still the last of its week, month and year (and the newest).
    expect(later.get(at('2026-12-06T02:00:00Z').getTime())).toEqual(['newest', 'weekly', 'monthly', 'yearly']);
  });

  it('keeps the monthly backup exactly at the 6-month boundary and drops it 1 ms later', () => {
    const only = [at('2026-06-06T03:00:00Z'), at('2026-12-05T03:00:00Z')];
    expect(backupsToKeep(only, at('2026-12-06T03:00:00Z')).get(only[0]!.getTime())).toContain('monthly');
    expect(backupsToKeep(only, at('2026-12-06T03:00:00.001Z')).has(only[0]!.getTime())).toBe(false);
  });

  it('never deletes the newest backup, nor one dated after now', () => {
    const old = [at('2020-01-01T00:00:00Z')];
    expect(backupsToKeep(old, now).get(old[0]!.getTime())).toEqual(['newest']);
    const future = at('2026-12-07T00:00:00Z');
    expect(backupsToKeep([future, at('2026-12-06T01:00:00Z')], now).get(future.getTime())).toContain('future');
    expect(backupsToKeep([], now).size).toBe(0);
  });

  it('keeps only the last of several backups on one day', () => {
    const morning = at('2026-12-05T02:00:00Z');
    const evening = at('2026-12-05T20:00:00Z');
    const result = backupsToKeep([morning, evening, at('2026-12-06T02:00:00Z')], now);
    expect(result.has(morning.getTime())).toBe(false);
    expect(result.get(evening.getTime())).toContain('daily');
  });

  it('numbers ISO weeks across the new year', () => {
    expect(isoWeekKey(at('2026-12-31T12:00:00Z'))).toBe('2026-W53');
    expect(isoWeekKey(at('2027-01-03T12:00:00Z'))).toBe('2026-W53');
    expect(isoWeekKey(at('2027-01-04T12:00:00Z'))).toBe('2027-W01');
  });
});

describe('binary logs for point-in-time recovery', () => {
  it('keeps logs written within 7 days, exactly at the boundary included', () => {
    const now = at('2026-12-06T00:00:00Z');
    const files = [
      { name: 'kluis-bin.000001.enc', modified: new Date(now.getTime() - 7 * DAY_MS - 1) },
      { name: 'kluis-bin.000002.enc', modified: new Date(now.getTime() - 7 * DAY_MS) },
      { name: 'kluis-bin.000003.enc', modified: new Date(now.getTime() - DAY_MS) },
    ];
    expect([...binlogsToKeep(files, now)]).toEqual(['kluis-bin.000002.enc', 'kluis-bin.000003.enc']);
  });
});

describe('file names', () => {
  it('reads the time of complete backups only', () => {
    expect(backupTimeOf('kluis-db-20261206T020000Z.sql.gz.enc')).toEqual(at('2026-12-06T02:00:00Z'));
    expect(backupTimeOf('kluis-blobs-20261206T020000Z.tar.gz.enc')).toEqual(at('2026-12-06T02:00:00Z'));
    for (const name of ['kluis-db-20261206T020000Z.sql.gz.enc.partial', 'kluis-db-20261399T020000Z.sql.gz.enc', 'notes.txt', '../kluis-db-20261206T020000Z.sql.gz.enc', 'kluis-db-20261206T020000Z.sql.gz.enc.sha256']) {
      expect(backupTimeOf(name)).toBeUndefined();
    }
    const plan = planFullBackups(['kluis-db-20200101T000000Z.sql.gz.enc', 'kluis-db-20261206T020000Z.sql.gz.enc', 'kluis-db-20261206T020000Z.sql.gz.enc.sha256', 'half.partial'], at('2026-12-06T03:00:00Z'));
    expect(plan).toEqual({ keep: ['kluis-db-20261206T020000Z.sql.gz.enc'], remove: ['kluis-db-20200101T000000Z.sql.gz.enc'], ignored: ['half.partial'] });
  });
});

describe('npm run backup:prune on a folder', () => {
  it('deletes what the schedule does not keep (with its checksum), leaves other files, and only reports on --dry-run', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-prune-'));
    try {
      fs.mkdirSync(path.join(dir, 'db'));
      fs.mkdirSync(path.join(dir, 'binlog'));
      const now = at('2026-12-06T03:00:00Z');
      const names = dailyBackups('2026-09-01', '2026-12-06').map(nameAt);
      for (const n of names) {
        fs.writeFileSync(path.join(dir, 'db', n), 'x');
        fs.writeFileSync(path.join(dir, 'db', `${n}.sha256`), 'x');
      }
      fs.writeFileSync(path.join(dir, 'db', 'README.txt'), 'operator notes');
      const oldLog = path.join(dir, 'binlog', 'kluis-bin.000001.enc');
      fs.writeFileSync(oldLog, 'x');
      fs.utimesSync(oldLog, new Date(now.getTime() - 8 * DAY_MS), new Date(now.getTime() - 8 * DAY_MS));
      fs.writeFileSync(path.join(dir, 'binlog', 'kluis-bin.000002.enc'), 'x');
      fs.utimesSync(path.join(dir, 'binlog', 'kluis-bin.000002.enc'), now, now);

      const dry = pruneBackupDir(dir, now, { dryRun: true });
      expect(fs.readdirSync(path.join(dir, 'db'))).toHaveLength(names.length * 2 + 1);
      expect(dry.removed).toContain('binlog/kluis-bin.000001.enc');

      const out = execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'infra/backup/prune.ts', dir, '--now', now.toISOString()], { cwd: ROOT, encoding: 'utf8' });
      expect(out).toMatch(new RegExp(`${dry.kept.length} kept, ${dry.removed.length} removed`));
      const left = fs.readdirSync(path.join(dir, 'db')).sort();
      const expected = planFullBackups(names, now).keep;
      expect(left).toEqual([...expected, ...expected.map((n) => `${n}.sha256`), 'README.txt'].sort());
      expect(fs.readdirSync(path.join(dir, 'binlog'))).toEqual(['kluis-bin.000002.enc']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a malformed command line', () => {
    expect(() => execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'infra/backup/prune.ts', '--now', 'yesterday'], { cwd: ROOT, stdio: 'pipe' })).toThrow(/usage/);
  });
});
