/**
 * Point-in-time recovery end to end, on real private MariaDB servers: a source with binary logging
 * (encrypted on disk, as in production) and Kluis's schema is dumped by backup.sh with its binlog
 * position, written to after the dump, and then hit by an "accident" (a DELETE and an UPDATE).
 * backup.sh copies the binary logs through the server, encrypted under the backup key. The drill
 * restores dump + logs into a FRESH server up to the moment T just before the accident: the rows
 * written after the dump are there, the accident is not (equal to a snapshot of the source at T).
 *
 * Binlog events carry whole seconds. So T is the next whole second after the last write that
 * must survive, and the accident is started only once the clock has passed T: every event before
 * it is stamped before T, the accident's at T or later, however slowly the machine runs.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import mariadb from 'mariadb';
import { createDatabase } from '../../api/db/client';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../../api/db/embeddedMariadb';
import { connectionOptions, migrateDatabase } from '../../api/db/migrate';
import { dumpTimeOfName } from '../../infra/backup/point-in-time';
import { compareFingerprints, fingerprintTables, restoreDrill, type TableFingerprint } from '../../infra/backup/restore-drill';

const execFileAsync = promisify(execFile);
const BACKUP = path.resolve(__dirname, '..', '..', 'infra', 'backup', 'backup.sh');
const DATABASE = 'kluis_pitr';
const CANARY = `canary-${randomUUID()}`;

let work: string;
let source: EmbeddedMariadb;
let keyFile: string;
let env: Record<string, string>;
let dump: string;
let binlogDir: string;
let until: Date;
let atUntil: Record<string, TableFingerprint>;
let atEnd: Record<string, TableFingerprint>;
let workspaceId: string;
let conversationId: string;

async function backup(kind: string, extra: Record<string, string> = {}): Promise<string> {
  const { stdout } = await execFileAsync(BACKUP, [kind], { env: { ...process.env, ...env, ...extra } });
  return stdout.trim();
}

/** The administrator over the source's socket (the account the embedded server grants to its owner). */
async function admin<T>(work: (connection: mariadb.Connection) => Promise<T>): Promise<T> {
  const connection = await mariadb.createConnection({ socketPath: path.join(sourceDir(), 'run', 'mysqld.sock'), user: process.getuid?.() === 0 ? 'root' : os.userInfo().username });
  try {
    return await work(connection);
  } finally {
    await connection.end();
  }
}
const sourceDir = (): string => path.join(work, 'source');

async function writeMessages(count: number, label: string): Promise<void> {
  const db = createDatabase(source.url, 1);
  try {
    for (let m = 0; m < count; m++) {
      await db.message.create({ data: { id: randomUUID(), workspaceId, conversationId, role: 'user', text: `${CANARY} ${label} ${m} ${randomBytes(6).toString('hex')}` } });
    }
  } finally {
    await db.$disconnect();
  }
}

async function fingerprintSource(): Promise<Record<string, TableFingerprint>> {
  const connection = await mariadb.createConnection(connectionOptions(source.url));
  try {
    return await fingerprintTables(connection, DATABASE);
  } finally {
    await connection.end();
  }
}

/** A copy of the backed-up logs to spoil in one way, leaving the real ones alone. */
function copyOfBinlogs(name: string): string {
  const copy = path.join(work, name);
  fs.cpSync(binlogDir, copy, { recursive: true });
  return copy;
}

const binlogNames = (dir: string): string[] => fs.readdirSync(dir).filter((n) => n.endsWith('.enc')).sort();

beforeAll(async () => {
  // /tmp, not the worktree: the server runs as "mysql" and must be able to reach its folder.
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-pitr-test-'));
  fs.chmodSync(work, 0o711);
  source = await startEmbeddedMariadb({ dir: sourceDir(), database: DATABASE, binlog: true });
  await migrateDatabase(source.url);

  // The backup account with exactly the privileges the README lists.
  const password = randomBytes(16).toString('hex');
  await admin(async (c) => {
    await c.query("CREATE USER 'kluis_backup'@'127.0.0.1' IDENTIFIED BY ?", [password]);
    await c.query(`GRANT SELECT, SHOW VIEW, TRIGGER, LOCK TABLES, EVENT ON \`${DATABASE}\`.* TO 'kluis_backup'@'127.0.0.1'`);
    await c.query("GRANT RELOAD, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO 'kluis_backup'@'127.0.0.1'");
  });
  keyFile = path.join(work, 'backup.key');
  fs.writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o400 });
  const defaults = path.join(work, 'client.cnf');
  fs.writeFileSync(defaults, `[client]\nhost=127.0.0.1\nport=${source.port}\nuser=kluis_backup\npassword=${password}\n`, { mode: 0o600 });
  env = { BACKUP_DIR: path.join(work, 'backups'), BACKUP_KEY_FILE: keyFile, BACKUP_MYSQL_DEFAULTS: defaults, BACKUP_DATABASE: DATABASE };
  binlogDir = path.join(work, 'backups', 'binlog');

  // Before the dump.
  workspaceId = randomUUID();
  conversationId = randomUUID();
  const db = createDatabase(source.url, 1);
  try {
    await db.workspace.create({ data: { id: workspaceId, tenantId: randomUUID(), name: 'Werkruimte vóór de dump' } });
    const userId = randomUUID();
    await db.user.create({ data: { id: userId, workspaceId, entraObjectId: randomUUID(), displayName: 'Zoë' } });
    await db.conversation.create({ data: { id: conversationId, workspaceId, userId, channel: 'teams', externalId: conversationId } });
  } finally {
    await db.$disconnect();
  }
  await writeMessages(5, 'before the dump');
  dump = await backup('db', { BACKUP_BINLOG_POSITION: 'yes' });

  // After the dump, over two logs (an hourly binlogs run in between), then T.
  await writeMessages(4, 'after the dump');
  await backup('binlogs');
  await writeMessages(3, 'after the first binlog copy');
  await admin((c) => c.query('FLUSH BINARY LOGS'));
  until = new Date((Math.floor(Date.now() / 1000) + 1) * 1000);
  atUntil = await fingerprintSource();
  while (Date.now() < until.getTime() + 20) await new Promise((resolve) => setTimeout(resolve, 50));

  // The accident, then the next binlogs run.
  const connection = await mariadb.createConnection(connectionOptions(source.url));
  try {
    await connection.query('DELETE FROM `Message` WHERE workspaceId = ?', [workspaceId]);
    await connection.query("UPDATE `Workspace` SET name = 'overschreven' WHERE id = ?", [workspaceId]);
  } finally {
    await connection.end();
  }
  await backup('binlogs');
  atEnd = await fingerprintSource();
}, 180000);

afterAll(async () => {
  await source?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('backup.sh binlogs', () => {
  it('copies every closed log through the server, encrypted under the backup key, readable only after decryption', async () => {
    const names = binlogNames(binlogDir);
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const name of names) {
      expect(name).toMatch(/^kluis-bin\.\d{6}\.enc$/);
      expect(fs.existsSync(path.join(binlogDir, `${name}.sha256`))).toBe(true);
      const bytes = fs.readFileSync(path.join(binlogDir, name));
      expect(bytes.subarray(0, 8).toString('latin1')).toBe('Salted__');
      expect(bytes.includes(Buffer.from(CANARY))).toBe(false);
    }
    expect(fs.readdirSync(binlogDir).filter((n) => n.endsWith('.partial'))).toEqual([]);
    // The server's own files are encrypted too, which is why the copy goes through the server.
    const serverLogs = fs.readdirSync(path.join(sourceDir(), 'data')).filter((n) => /^kluis-bin\.\d+$/.test(n));
    expect(serverLogs.length).toBeGreaterThan(names.length);
    for (const log of serverLogs) expect(fs.readFileSync(path.join(sourceDir(), 'data', log)).includes(Buffer.from(CANARY))).toBe(false);
    // Decrypted, a copy is a plain binary log holding the rows written after the dump.
    const { stdout } = await execFileAsync('bash', ['-c', 'set -o pipefail; "$0" decrypt "$1" | mariadb-binlog --no-defaults --base64-output=decode-rows --verbose -', BACKUP, path.join(binlogDir, names[0]!)], { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    expect(stdout).toContain(`${CANARY} after the dump 3`);
  }, 60000);

  it('copies a log only once: a second run adds only the newly closed one', async () => {
    const before = binlogNames(binlogDir);
    const added = (await backup('binlogs')).split('\n').filter(Boolean);
    expect(added).toHaveLength(1);
    expect(binlogNames(binlogDir)).toEqual([...before, path.basename(added[0]!)].sort());
    fs.rmSync(added[0]!);
    fs.rmSync(`${added[0]!}.sha256`);
  }, 60000);

  it('fails clearly and seals nothing when the server refuses to send a log', async () => {
    const password = randomBytes(16).toString('hex');
    await admin(async (c) => {
      await c.query("CREATE USER 'kluis_nodump'@'127.0.0.1' IDENTIFIED BY ?", [password]);
      await c.query("GRANT RELOAD, BINLOG MONITOR ON *.* TO 'kluis_nodump'@'127.0.0.1'");
    });
    const defaults = path.join(work, 'nodump.cnf');
    fs.writeFileSync(defaults, `[client]\nhost=127.0.0.1\nport=${source.port}\nuser=kluis_nodump\npassword=${password}\n`, { mode: 0o600 });
    const dir = path.join(work, 'refused');
    // A timeout turns a hang (openssl waiting on the pipe forever) into a failure.
    const attempt = execFileAsync(BACKUP, ['binlogs'], { env: { ...process.env, ...env, BACKUP_MYSQL_DEFAULTS: defaults, BACKUP_DIR: dir }, timeout: 30000 });
    await expect(attempt).rejects.toMatchObject({ stderr: expect.stringMatching(/could not read the binary log kluis-bin\.\d+ from the server: .*REPLICATION SLAVE/s) });
    expect(fs.readdirSync(path.join(dir, 'binlog'))).toEqual([]);
  }, 60000);
});

describe('point-in-time restore', () => {
  it('restores the dump plus the logs until T into a fresh server: the rows after the dump are back, the accident is not', async () => {
    const result = await restoreDrill({ file: dump, keyFile, binlogDir, until });
    expect(compareFingerprints(result.tables, atUntil)).toEqual([]);
    expect(result.tables.Message?.rows).toBe(5 + 4 + 3);
    // Not a formality: the state at the end (after the accident) differs.
    expect(compareFingerprints(result.tables, atEnd)).toEqual(expect.arrayContaining([`Message: ${5 + 4 + 3} rows restored, 0 in the compared database`]));
    expect(result.pointInTime?.logs.length).toBeGreaterThanOrEqual(3);
    expect(result.pointInTime?.until).toBe(until.toISOString());
  }, 120000);

  it('replays everything without --until, accident included: equal to the source at the end', async () => {
    const result = await restoreDrill({ file: dump, keyFile, binlogDir, compareUrl: source.url });
    expect(result.mismatches).toEqual([]);
    expect(compareFingerprints(result.tables, atEnd)).toEqual([]);
    expect(result.tables.Message?.rows).toBe(0);
  }, 120000);

  it('refuses a gap in the logs', async () => {
    const dir = copyOfBinlogs('gap');
    const names = binlogNames(dir);
    const middle = names[1]!;
    fs.rmSync(path.join(dir, middle));
    fs.rmSync(path.join(dir, `${middle}.sha256`));
    await expect(restoreDrill({ file: dump, keyFile, binlogDir: dir, until })).rejects.toThrow(`gap in the backed-up binary logs: ${middle.replace(/\.enc$/, '')} missing between`);
  });

  it("refuses when the dump's own log is missing", async () => {
    const dir = copyOfBinlogs('first-missing');
    const first = binlogNames(dir)[0]!;
    fs.rmSync(path.join(dir, first));
    await expect(restoreDrill({ file: dump, keyFile, binlogDir: dir })).rejects.toThrow(`the binary log ${first.replace(/\.enc$/, '')} (where the dump's position`);
  });

  it('refuses a damaged log (checksum) and a log under another key', async () => {
    const damaged = copyOfBinlogs('damaged');
    const victim = path.join(damaged, binlogNames(damaged)[1]!);
    const bytes = fs.readFileSync(victim);
    bytes[bytes.length - 20]! ^= 0xff;
    fs.writeFileSync(victim, bytes);
    await expect(restoreDrill({ file: dump, keyFile, binlogDir: damaged, until })).rejects.toThrow(/does not match its checksum/);

    // Sealed with a different key (checksum matching): the decryption itself must fail.
    const foreign = copyOfBinlogs('foreign');
    const otherKey = path.join(work, 'other.key');
    fs.writeFileSync(otherKey, `${randomBytes(32).toString('hex')}\n`, { mode: 0o400 });
    const name = binlogNames(foreign)[1]!;
    await execFileAsync(
      'bash',
      ['-c', 'set -o pipefail; "$0" decrypt "$1" | openssl enc -aes-256-cbc -pbkdf2 -iter 100000 -salt -pass "file:$2" -out "$1.new" && mv "$1.new" "$1" && cd "$(dirname "$1")" && sha256sum "$(basename "$1")" > "$1.sha256"', BACKUP, path.join(foreign, name), otherKey],
      { env: { ...process.env, ...env } },
    );
    // openssl says "bad decrypt"; in the rare case that garbage passes its padding check,
    // mariadb-binlog refuses what came out instead. Either way the restore fails.
    await expect(restoreDrill({ file: dump, keyFile, binlogDir: foreign, until })).rejects.toThrow(/failed \(exit \d+\): .*(bad decrypt|binlog|log format)/is);
  }, 120000);

  it('refuses a dump without a recorded position, a moment before the dump, after the backed-up logs, or not in whole seconds', async () => {
    const plain = await backup('db');
    expect(plain).not.toBe(dump);
    await expect(restoreDrill({ file: plain, keyFile, binlogDir })).rejects.toThrow(/records no binlog position \(it was made without BACKUP_BINLOG_POSITION=yes\)/);

    const dumpTime = dumpTimeOfName(dump)!;
    await expect(restoreDrill({ file: dump, keyFile, binlogDir, until: new Date(dumpTime.getTime() - 1000) })).rejects.toThrow(/is before the dump was taken/);
    await expect(restoreDrill({ file: dump, keyFile, binlogDir, until: new Date(until.getTime() + 1500) })).rejects.toThrow(/whole seconds/);
    await expect(restoreDrill({ file: dump, keyFile, until })).rejects.toThrow(/--until needs --binlogs/);
    const later = new Date((Math.floor(Date.now() / 1000) + 3600) * 1000);
    await expect(restoreDrill({ file: dump, keyFile, binlogDir, until: later })).rejects.toThrow(/changes after that are not backed up yet/);
  }, 120000);
});
