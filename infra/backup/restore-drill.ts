/**
 * The restore drill: proves a database backup can be restored, on a fresh private MariaDB server
 * that nothing else uses (the production database is never touched).
 *
 *   BACKUP_KEY_FILE=<key> npm run backup:restore-drill -- <kluis-db-...sql.gz.enc> [--compare <DATABASE_URL>]
 *
 * It checks the file against its checksum, decrypts and loads it, then lists every table with its
 * row count and `CHECKSUM TABLE` value. With `--compare` it computes the same for a live database
 * (a quiet replica, or the source right after the dump) and fails on any difference. Exit code 0
 * means the drill passed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mariadb from 'mariadb';
import { startEmbeddedMariadb } from '../../api/db/embeddedMariadb';
import { connectionOptions } from '../../api/db/migrate';

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

/** The database a dump made with `--databases` creates (its first `USE` statement). */
async function databaseOfDump(file: string, keyFile: string): Promise<string> {
  const head = await run('bash', ['-c', 'set -o pipefail; "$0" decrypt "$1" | gunzip | head -c 65536', BACKUP_SCRIPT, file], { BACKUP_KEY_FILE: keyFile, BACKUP_DIR: os.tmpdir() }, true);
  const match = /^USE `([A-Za-z0-9_]{1,64})`;/m.exec(head);
  if (!match) throw new Error(`${file} is not a Kluis database dump (no USE statement): was it made with backup.sh db?`);
  return match[1]!;
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
export async function restoreDrill(options: { file: string; keyFile: string; compareUrl?: string; workDir?: string; log?: (m: string) => void }): Promise<DrillResult> {
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

async function restoreInto(workDir: string, options: { file: string; keyFile: string; compareUrl?: string }, log: (m: string) => void): Promise<DrillResult> {
  const database = await databaseOfDump(options.file, options.keyFile);
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
    return { database, tables, mismatches };
  } finally {
    await instance.stop();
  }
}

async function main(argv: string[]): Promise<number> {
  const usage = 'usage: BACKUP_KEY_FILE=<key> restore-drill.ts <kluis-db-...sql.gz.enc> [--compare <DATABASE_URL>]';
  let file: string | undefined;
  let compareUrl: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--compare' && argv[i + 1]) compareUrl = argv[++i];
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
  const result = await restoreDrill({ file, keyFile, compareUrl, log: (m) => console.error(m) });
  for (const [table, f] of Object.entries(result.tables)) console.log(`${table.padEnd(32)} ${String(f.rows).padStart(10)} rows  checksum ${f.checksum}`);
  if (result.mismatches.length) {
    for (const line of result.mismatches) console.error(`MISMATCH ${line}`);
    console.error(`kluis-backup: restore drill FAILED: ${result.mismatches.length} table(s) differ.`);
    return 1;
  }
  console.log(`kluis-backup: restore drill passed: ${Object.keys(result.tables).length} tables of ${result.database} restored${compareUrl ? ' and equal to the compared database' : ''}.`);
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
