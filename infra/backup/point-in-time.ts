/**
 * Point-in-time recovery: after a dump is loaded, the backed-up binary logs that follow the dump's
 * recorded position are decrypted (`backup.sh decrypt`, checksum first) and replayed with
 * mariadb-binlog, up to a moment given in UTC.
 *
 * What is refused, before anything is replayed: a dump without a recorded binlog position (made
 * without BACKUP_BINLOG_POSITION=yes), a missing log at or after that position (a gap would skip
 * changes silently), a moment before the dump, and a moment after the end of the backed-up logs
 * (changes after it would be missing without notice). A damaged or altered log fails its checksum;
 * a wrong key fails the decryption.
 *
 * Time: binlog events carry whole seconds, and mariadb-binlog reads --stop-datetime in the local
 * time zone of its own process. The moment is therefore required in whole UTC seconds and passed as
 * `YYYY-MM-DD HH:MM:SS` to a mariadb-binlog started with TZ=UTC. Replayed are the events logged
 * before that second; events of that second itself and later are not.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const BACKUP_SCRIPT = path.join(__dirname, 'backup.sh');

export interface BinlogPosition {
  /** e.g. kluis-bin.000002 */
  file: string;
  position: number;
}

/** The position a dump made with --master-data=2 records in its header comment. */
export function binlogPositionOfDump(head: string): BinlogPosition | undefined {
  const match = /^-- CHANGE MASTER TO MASTER_LOG_FILE='([A-Za-z0-9_.-]+)', MASTER_LOG_POS=(\d+);/m.exec(head);
  return match ? { file: match[1]!, position: Number(match[2]) } : undefined;
}

/** When backup.sh db took the dump: the UTC stamp in its name (kluis-db-20261207T023000Z...). */
export function dumpTimeOfName(file: string): Date | undefined {
  const match = /^kluis-db-(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z\./.exec(path.basename(file));
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}

/** `2026-12-07T10:15:00Z` (whole seconds, UTC) as a Date; anything else is refused. */
export function parseUntil(text: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(text) || Number.isNaN(Date.parse(text))) {
    throw new Error(`--until "${text.slice(0, 40)}" is not a UTC moment in whole seconds such as 2026-12-07T10:15:00Z`);
  }
  return new Date(text);
}

/** mariadb-binlog's --stop-datetime value for `until`, to be read by a process running with TZ=UTC. */
export function stopDatetime(until: Date): string {
  if (Number.isNaN(until.getTime()) || until.getUTCMilliseconds() !== 0) {
    throw new Error(`the moment to restore to must be whole seconds (binlog events carry whole seconds), got ${String(until.toISOString?.() ?? until)}`);
  }
  return until.toISOString().replace('T', ' ').replace(/\.000Z$/, '');
}

/**
 * The backed-up logs to replay, oldest first: the dump's log and every later one in `binlogDir`
 * (`<name>.<number>.enc`), refusing a missing first log or a gap in the numbering.
 */
export function binlogsToReplay(binlogDir: string, from: BinlogPosition): string[] {
  const first = /^(.+)\.(\d+)$/.exec(from.file);
  if (!first) throw new Error(`the dump's binlog file name "${from.file}" has no sequence number`);
  const [, base, digits] = first as unknown as [string, string, string];
  let names: string[];
  try {
    names = fs.readdirSync(binlogDir);
  } catch (cause) {
    throw new Error(`cannot read the backed-up binary logs in ${binlogDir}: ${(cause as Error).message}`);
  }
  const numbers = names
    .map((name) => new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)\\.enc$`).exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .filter((n) => n >= Number(digits))
    .sort((a, b) => a - b);
  const nameOf = (n: number): string => `${base}.${String(n).padStart(digits.length, '0')}`;
  if (numbers[0] !== Number(digits)) {
    throw new Error(`the binary log ${from.file} (where the dump's position ${from.position} lies) is not among the backups in ${binlogDir} (still open on the server? run backup.sh binlogs first)`);
  }
  for (let i = 1; i < numbers.length; i++) {
    if (numbers[i] !== numbers[i - 1]! + 1) {
      const missing = [];
      for (let n = numbers[i - 1]! + 1; n < numbers[i]!; n++) missing.push(nameOf(n));
      throw new Error(`gap in the backed-up binary logs: ${missing.join(', ')} missing between ${nameOf(numbers[i - 1]!)} and ${nameOf(numbers[i]!)}; replaying past it would skip changes`);
    }
  }
  return numbers.map((n) => path.join(binlogDir, `${nameOf(n)}.enc`));
}

export interface ReplayOptions {
  /** the backed-up logs, oldest first (binlogsToReplay) */
  files: string[];
  from: BinlogPosition;
  keyFile: string;
  /** the dump's database: only its changes are replayed (the logs also hold other databases, e.g. user accounts) */
  database: string;
  /** the moment to stop at (whole UTC seconds); without it every backed-up change is replayed */
  until?: Date;
  /** a private folder (mode 0700) for the decrypted logs, removed afterwards */
  workDir: string;
  /** where to replay: the administrator over a server's socket */
  socket: string;
  admin: string;
  log?: (message: string) => void;
}

/** Decrypts the logs and replays them (from the dump's position, up to `until`) into the server. */
export async function replayBinlogs(options: ReplayOptions): Promise<{ replayedLogs: string[] }> {
  const log = options.log ?? (() => undefined);
  const stop = options.until ? stopDatetime(options.until) : undefined;
  const plain = path.join(options.workDir, 'binlog-plain');
  fs.mkdirSync(plain, { recursive: true, mode: 0o700 });
  fs.chmodSync(plain, 0o700);
  try {
    const decrypted: string[] = [];
    for (const file of options.files) {
      const target = path.join(plain, path.basename(file).replace(/\.enc$/, ''));
      await run('bash', ['-c', 'set -o pipefail; "$0" decrypt "$1" > "$2"', BACKUP_SCRIPT, file, target], { BACKUP_KEY_FILE: options.keyFile, BACKUP_DIR: options.workDir });
      decrypted.push(target);
    }
    const utc = { TZ: 'UTC' };
    if (options.until) {
      const end = await lastEventTime(decrypted[decrypted.length - 1]!, utc);
      if (end && options.until.getTime() > end.getTime()) {
        throw new Error(
          `the backed-up binary logs end at ${end.toISOString()}, before ${options.until.toISOString()}: changes after that are not backed up yet (run backup.sh binlogs first) or lost; choose an earlier --until`,
        );
      }
    }
    const binlogArgs = [`--start-position=${options.from.position}`, `--database=${options.database}`, ...(stop ? [`--stop-datetime=${stop}`] : []), ...decrypted];
    log(`replaying ${decrypted.length} binary log(s) from ${options.from.file}:${options.from.position}${stop ? ` until ${stop} UTC` : ' to their end'}`);
    await run(
      'bash',
      ['-c', 'set -o pipefail; admin="$1"; socket="$2"; shift 2; mariadb-binlog --no-defaults "$@" | mariadb --no-defaults --socket="$socket" --user="$admin" --default-character-set=utf8mb4', 'replay', options.admin, options.socket, ...binlogArgs],
      utc,
    );
    return { replayedLogs: options.files.map((file) => path.basename(file)) };
  } finally {
    fs.rmSync(plain, { recursive: true, force: true });
  }
}

/** The time of the last event in a log (a closed log ends with its rotation), read with TZ=UTC. */
async function lastEventTime(file: string, env: Record<string, string>): Promise<Date | undefined> {
  const text = await run('mariadb-binlog', ['--no-defaults', file], env);
  let last: Date | undefined;
  for (const match of text.matchAll(/^#(\d{2})(\d{2})(\d{2}) +(\d{1,2}):(\d{2}):(\d{2}) server id/gm)) {
    const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
    last = new Date(Date.UTC(2000 + y!, mo! - 1, d!, h!, mi!, s!));
  }
  return last;
}

function run(command: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => void out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => void (err += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`${command === 'bash' ? path.basename(args[2] ?? command) : command} failed (exit ${code}): ${err.trim().slice(-2000)}`));
    });
  });
}
