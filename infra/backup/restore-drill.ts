/**
 * The restore drill: proves a database backup can be restored, on a fresh private MariaDB server
 * that nothing else uses (the production database is never touched).
 *
 *   BACKUP_KEY_FILE=<key> npm run backup:restore-drill -- <kluis-db-...sql.gz.enc> [--compare <DATABASE_URL>]
 *     [--binlogs <BACKUP_DIR/binlog> [--until <2026-12-07T10:15:00Z>]]
 *
 * It checks the file against its checksum, decrypts and loads it, then lists every table with its
 * row count and `CHECKSUM TABLE` value. With `--compare` it computes the same for a live database
 * (a quiet replica, or the source right after the dump) and fails on any difference. Exit code 0
 * means the drill passed.
 *
 * With `--binlogs` it is a point-in-time restore (point-in-time.ts): after the dump, the backed-up
 * binary logs from the dump's recorded position are replayed, up to `--until` (whole seconds, UTC)
 * or to their end.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mariadb from 'mariadb';
import { startEmbeddedMariadb } from '../../api/db/embeddedMariadb';
import { connectionOptions } from '../../api/db/migrate';
import { binlogPositionOfDump, binlogsToReplay, dumpTimeOfName, parseUntil, replayBinlogs, stopDatetime, type BinlogPosition } from './point-in-time';

const BACKUP_SCRIPT = path.join(__dirname, 'backup.sh');

export interface TableFingerprint {
  rows: number;
  checksum: string;
}

export interface DrillResult {
  database: string;
  tables: Record<string, TableFingerprint>;
  /** Differences from the compared database, one line each; empty when they agree (or nothing was compared). */
  mismatches: string[];
  /** With binlogs: where the replay started, which logs it read, and the moment it stopped at (UTC). */
  pointInTime?: { from: BinlogPosition; logs: string[]; until?: string };
}

export interface DrillOptions {
  file: string;
  keyFile: string;
  compareUrl?: string;
  /** the backed-up binary logs (BACKUP_DIR/binlog): replay them after the dump (point-in-time recovery) */
  binlogDir?: string;
  /** with binlogDir: stop before this moment (whole seconds); without it every backed-up change is replayed */
  until?: Date;
  workDir?: string;
  log?: (m: string) => void;
}

/** Row count and checksum of every base table of `database`. */
export async function fingerprintTables(connection: mariadb.Connection, database: string): Promise<Record<string, TableFingerprint>> {
  const tables = (await connection.query("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", [database])) as Array<{ name: string }>;
  const result: Record<string, TableFingerprint> = {};
  for (const { name } of tables) {
    const quoted = `\`${database.replace(/`/g, '``')}\`.\`${name.replace(/`/g, '``')}\``;
    const [count] = (await connection.query(`SELECT COUNT(*) AS n FROM ${quoted}`)) as Array<{ n: bigint | number }>;
    const [sum] = (await connection.query(`CHECKSUM TABLE ${quoted}`)) as Array<{ Checksum: bigint | number | null }>;
    result[name] = { rows: Number(count?.n ?? 0), checksum: String(sum?.Checksum ?? 'null') };
  }
  return result;
}

/** What differs between two sets of fingerprints, as readable lines. */
export function compareFingerprints(restored: Record<string, TableFingerprint>, source: Record<string, TableFingerprint>): string[] {
  const lines: string[] = [];
  for (const table of [...new Set([...Object.keys(source), ...Object.keys(restored)])].sort()) {
    const s = source[table];
    const r = restored[table];
    if (!r) lines.push(`${table}: missing from the restore`);
    else if (!s) lines.push(`${table}: not in the compared database`);
    else if (s.rows !== r.rows) lines.push(`${table}: ${r.rows} rows restored, ${s.rows} in the compared database`);
    else if (s.checksum !== r.checksum) lines.push(`${table}: checksum ${r.checksum} restored, ${s.checksum} in the compared database`);
  }
  return lines;
}

/** The database a dump made with `--databases` creates (its first `USE` statement), and its binlog position if recorded. */
async function headOfDump(file: string, keyFile: string): Promise<{ database: string; position?: BinlogPosition }> {
  const head = await run('bash', ['-c', 'set -o pipefail; "$0" decrypt "$1" | gunzip | head -c 65536', BACKUP_SCRIPT, file], { BACKUP_KEY_FILE: keyFile, BACKUP_DIR: os.tmpdir() }, true);
  const match = /^USE `([A-Za-z0-9_]{1,64})`;/m.exec(head);
  if (!match) throw new Error(`${file} is not a Kluis database dump (no USE statement): was it made with backup.sh db?`);
  return { database: match[1]!, position: binlogPositionOfDump(head) };
}

/** What a point-in-time restore needs, checked before any server starts. */
function planPointInTime(options: DrillOptions, position: BinlogPosition | undefined): { from: BinlogPosition; files: string[] } | undefined {
  if (!options.binlogDir) {
    if (options.until) throw new Error('--until needs --binlogs (the backed-up binary logs to replay)');
    return undefined;
  }
  if (!position) {
    throw new Error(`${path.basename(options.file)} records no binlog position (it was made without BACKUP_BINLOG_POSITION=yes), so no binary log can be replayed after it`);
  }
  if (options.until) {
    stopDatetime(options.until);
    const dumpTime = dumpTimeOfName(options.file);
    if (!dumpTime) throw new Error(`${path.basename(options.file)} does not carry its time in its name (kluis-db-<UTC>.sql.gz.enc), so --until cannot be checked against it`);
    if (options.until.getTime() < dumpTime.getTime()) {
      throw new Error(`--until ${options.until.toISOString()} is before the dump was taken (${dumpTime.toISOString()}); restore an older dump instead`);
    }
  }
  return { from: position, files: binlogsToReplay(options.binlogDir, position) };
}

function run(command: string, args: string[], env: Record<string, string>, allowSigpipe = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => void (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => void (err += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => {
      // `head` closing the pipe early ends the upstream commands with SIGPIPE (141): expected there.
      if (code === 0 || (allowSigpipe && code === 141 && out)) resolve(out);
      else reject(new Error(`${path.basename(args[2] ?? command)} failed (exit ${code}): ${err.trim().slice(-2000)}`));
    });
  });
}

/** Restores `file` into a fresh private MariaDB server and fingerprints it (and `compareUrl`, if given). */
export async function restoreDrill(options: DrillOptions): Promise<DrillResult> {
  const log = options.log ?? (() => undefined);
  const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-restore-drill-'));
  // The server may run as "mysql" and must be able to pass through (not list) the folder.
  fs.chmodSync(workDir, 0o711);
  try {
    return await restoreInto(workDir, options, log);
  } finally {
    if (!options.workDir) fs.rmSync(workDir, { recursive: true, force: true });
  }
}

async function restoreInto(workDir: string, options: DrillOptions, log: (m: string) => void): Promise<DrillResult> {
  const { database, position } = await headOfDump(options.file, options.keyFile);
  const plan = planPointInTime(options, position);
  const instance = await startEmbeddedMariadb({ dir: path.join(workDir, 'mariadb'), database, log });
  try {
    // The administrator over the instance's own socket: the dump creates its database itself.
    const socket = path.join(workDir, 'mariadb', 'run', 'mysqld.sock');
    const admin = process.getuid?.() === 0 ? 'root' : os.userInfo().username;
    log(`restoring ${path.basename(options.file)} into a fresh server on port ${instance.port}`);
    await run('bash', ['-c', 'set -o pipefail; "$0" decrypt "$1" | gunzip | mariadb --no-defaults --socket="$2" --user="$3" --default-character-set=utf8mb4', BACKUP_SCRIPT, options.file, socket, admin], {
      BACKUP_KEY_FILE: options.keyFile,
      BACKUP_DIR: workDir,
    });
    let pointInTime: DrillResult['pointInTime'];
    if (plan) {
      const { replayedLogs } = await replayBinlogs({ files: plan.files, from: plan.from, keyFile: options.keyFile, database, until: options.until, workDir, socket, admin, log });
      pointInTime = { from: plan.from, logs: replayedLogs, until: options.until?.toISOString() };
    }
    const restoredConnection = await mariadb.createConnection(connectionOptions(instance.url));
    let tables: Record<string, TableFingerprint>;
    try {
      tables = await fingerprintTables(restoredConnection, database);
    } finally {
      await restoredConnection.end();
    }
    let mismatches: string[] = [];
    if (options.compareUrl) {
      const source = await mariadb.createConnection(connectionOptions(options.compareUrl));
      try {
        mismatches = compareFingerprints(tables, await fingerprintTables(source, connectionOptions(options.compareUrl).database!));
      } finally {
        await source.end();
      }
    }
    return { database, tables, mismatches, pointInTime };
  } finally {
    await instance.stop();
  }
}

async function main(argv: string[]): Promise<number> {
  const usage = 'usage: BACKUP_KEY_FILE=<key> restore-drill.ts <kluis-db-...sql.gz.enc> [--compare <DATABASE_URL>] [--binlogs <BACKUP_DIR/binlog> [--until <YYYY-MM-DDTHH:MM:SSZ>]]';
  let file: string | undefined;
  let compareUrl: string | undefined;
  let binlogDir: string | undefined;
  let until: Date | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--compare' && argv[i + 1]) compareUrl = argv[++i];
    else if (argv[i] === '--binlogs' && argv[i + 1]) binlogDir = argv[++i];
    else if (argv[i] === '--until' && argv[i + 1]) until = parseUntil(argv[++i]!);
    else if (!argv[i]!.startsWith('--') && !file) file = argv[i];
    else {
      console.error(`kluis-backup: unexpected argument; ${usage}`);
      return 2;
    }
  }
  const keyFile = process.env.BACKUP_KEY_FILE;
  if (!file || !keyFile) {
    console.error(`kluis-backup: ${usage}`);
    return 2;
  }
  const result = await restoreDrill({ file, keyFile, compareUrl, binlogDir, until, log: (m) => console.error(m) });
  for (const [table, f] of Object.entries(result.tables)) console.log(`${table.padEnd(32)} ${String(f.rows).padStart(10)} rows  checksum ${f.checksum}`);
  if (result.mismatches.length) {
    for (const line of result.mismatches) console.error(`MISMATCH ${line}`);
    console.error(`kluis-backup: restore drill FAILED: ${result.mismatches.length} table(s) differ.`);
    return 1;
  }
  const pit = result.pointInTime;
  const replayed = pit ? `, binary logs ${pit.logs.join(', ')} replayed from ${pit.from.file}:${pit.from.position} ${pit.until ? `until ${pit.until}` : 'to their end'}` : '';
  console.log(`kluis-backup: restore drill passed: ${Object.keys(result.tables).length} tables of ${result.database} restored${replayed}${compareUrl ? ' and equal to the compared database' : ''}.`);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(`kluis-backup: restore drill FAILED: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
