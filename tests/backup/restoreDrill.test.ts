/**
 * Backup and restore drill end to end: a private MariaDB server with Kluis's schema and data is
 * dumped and encrypted by backup.sh, and the dump is restored into a FRESH private server whose
 * tables must equal the source's, row count and checksum per table. A damaged file or a wrong key
 * must fail the drill, and the backup file must not reveal its contents.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createDatabase } from '../../api/db/client';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../../api/db/embeddedMariadb';
import { migrateDatabase } from '../../api/db/migrate';
import { compareFingerprints, restoreDrill } from '../../infra/backup/restore-drill';

const execFileAsync = promisify(execFile);
const BACKUP = path.resolve(__dirname, '..', '..', 'infra', 'backup', 'backup.sh');
const CANARY = `canary-${randomUUID()}`;

let work: string;
let source: EmbeddedMariadb;
let keyFile: string;
let env: Record<string, string>;

async function backup(kind: string, extra: Record<string, string> = {}): Promise<string> {
  const { stdout } = await execFileAsync(BACKUP, [kind], { env: { ...process.env, ...env, ...extra } });
  return stdout.trim();
}

beforeAll(async () => {
  // /tmp, not the worktree: the server runs as "mysql" and must be able to reach its folder.
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-backup-test-'));
  fs.chmodSync(work, 0o711);
  source = await startEmbeddedMariadb({ dir: path.join(work, 'source'), database: 'kluis_drill' });
  await migrateDatabase(source.url);
  const db = createDatabase(source.url, 2);
  try {
    for (let w = 0; w < 3; w++) {
      const workspaceId = randomUUID();
      await db.workspace.create({ data: { id: workspaceId, tenantId: randomUUID(), name: `Werkruimte ${w} — café “Ω”`, terminatedAt: w === 2 ? new Date('2026-11-01T10:00:00.123Z') : null } });
      const userId = randomUUID();
      await db.user.create({ data: { id: userId, workspaceId, entraObjectId: randomUUID(), displayName: 'Zoë 🦊' } });
      for (let c = 0; c < 4; c++) {
        const conversationId = randomUUID();
        await db.conversation.create({ data: { id: conversationId, workspaceId, userId, channel: 'teams', externalId: conversationId } });
        for (let m = 0; m < 5; m++) {
          await db.message.create({ data: { id: randomUUID(), workspaceId, conversationId, role: m % 2 ? 'assistant' : 'user', text: `${CANARY} bericht ${m}\n'quoted' "double" \\ backslash ${randomBytes(8).toString('base64')}`, citations: m % 2 ? [{ documentId: 'd', title: 'Ö', url: null, passage: 'x' }] : undefined } });
        }
      }
      await db.loginAttempt.create({ data: { id: randomUUID(), workspaceId, ip: '2001:db8::1', method: 'password', outcome: 'success' } });
    }
  } finally {
    await db.$disconnect();
  }
  keyFile = path.join(work, 'backup.key');
  fs.writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o400 });
  const { hostname, port, username, password } = new URL(source.url);
  const defaults = path.join(work, 'client.cnf');
  fs.writeFileSync(defaults, `[client]\nhost=${hostname}\nport=${port}\nuser=${decodeURIComponent(username)}\npassword=${decodeURIComponent(password)}\n`, { mode: 0o600 });
  env = { BACKUP_DIR: path.join(work, 'backups'), BACKUP_KEY_FILE: keyFile, BACKUP_MYSQL_DEFAULTS: defaults, BACKUP_DATABASE: 'kluis_drill' };
}, 180000);

afterAll(async () => {
  await source?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('backup.sh db and the restore drill', () => {
  let dump: string;

  it('writes an encrypted dump with its checksum, revealing nothing of the data', async () => {
    dump = await backup('db');
    expect(path.basename(dump)).toMatch(/^kluis-db-\d{8}T\d{6}Z\.sql\.gz\.enc$/);
    expect(fs.existsSync(`${dump}.sha256`)).toBe(true);
    expect(fs.readdirSync(path.dirname(dump)).filter((n) => n.endsWith('.partial'))).toEqual([]);
    const bytes = fs.readFileSync(dump);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('Salted__');
    expect(bytes.includes(Buffer.from(CANARY))).toBe(false);
    expect(bytes.includes(Buffer.from('kluis_drill'))).toBe(false);
    expect(fs.statSync(dump).mode & 0o077).toBe(0);
  }, 120000);

  it('restores into a fresh server with the same row count and checksum in every table', async () => {
    const result = await restoreDrill({ file: dump, keyFile, compareUrl: source.url });
    expect(result.database).toBe('kluis_drill');
    expect(result.mismatches).toEqual([]);
    expect(result.tables.Workspace?.rows).toBe(3);
    expect(result.tables.Conversation?.rows).toBe(12);
    expect(result.tables.Message?.rows).toBe(60);
    expect(result.tables.LoginAttempt?.rows).toBe(3);
    expect(result.tables._prisma_migrations?.rows).toBeGreaterThan(0);
    expect(Object.keys(result.tables)).toEqual(expect.arrayContaining(['User', 'Membership', 'RetentionPolicy', 'Upload', 'AuditEvent']));
  }, 180000);

  it('notices a source that changed after the dump (the comparison is not a formality)', async () => {
    const db = createDatabase(source.url, 1);
    const workspace = await db.workspace.findFirstOrThrow({ select: { id: true } });
    const conversation = await db.conversation.findFirstOrThrow({ where: { workspaceId: workspace.id }, select: { id: true } });
    await db.message.create({ data: { id: randomUUID(), workspaceId: workspace.id, conversationId: conversation.id, role: 'user', text: 'written after the backup' } });
    await db.$disconnect();
    const result = await restoreDrill({ file: dump, keyFile, compareUrl: source.url });
    expect(result.mismatches).toEqual(['Message: 60 rows restored, 61 in the compared database']);
  }, 180000);

  it('refuses a damaged backup and a wrong key', async () => {
    const damaged = path.join(path.dirname(dump), 'kluis-db-20260101T000000Z.sql.gz.enc');
    const bytes = fs.readFileSync(dump);
    bytes[bytes.length - 40]! ^= 0xff;
    fs.writeFileSync(damaged, bytes);
    fs.copyFileSync(`${dump}.sha256`, `${damaged}.sha256`);
    fs.writeFileSync(`${damaged}.sha256`, fs.readFileSync(`${damaged}.sha256`, 'utf8').replace(path.basename(dump), path.basename(damaged)));
    await expect(restoreDrill({ file: damaged, keyFile })).rejects.toThrow(/does not match its checksum/);

    const otherKey = path.join(work, 'other.key');
    fs.writeFileSync(otherKey, `${randomBytes(32).toString('hex')}\n`, { mode: 0o400 });
    await expect(restoreDrill({ file: dump, keyFile: otherKey })).rejects.toThrow(/failed/);
  }, 120000);

  it('refuses to run with a malformed key file', async () => {
    const weak = path.join(work, 'weak.key');
    fs.writeFileSync(weak, 'password123\n', { mode: 0o400 });
    await expect(backup('db', { BACKUP_KEY_FILE: weak })).rejects.toMatchObject({ stderr: expect.stringMatching(/64 hex characters/) });
  });
});

describe('backup.sh blobs', () => {
  it('snapshots the blob folder encrypted, and the snapshot decrypts to the same files', async () => {
    const blobs = path.join(work, 'blobs');
    fs.mkdirSync(path.join(blobs, 'ws-1', 'uploads'), { recursive: true });
    fs.writeFileSync(path.join(blobs, 'ws-1', 'uploads', 'a'), `${CANARY} blob`);
    const file = await backup('blobs', { BACKUP_BLOB_DIR: blobs });
    expect(fs.readFileSync(file).includes(Buffer.from(CANARY))).toBe(false);
    const out = path.join(work, 'restored-blobs');
    fs.mkdirSync(out);
    await execFileAsync('bash', ['-c', 'set -o pipefail; "$0" decrypt "$1" | tar -xzf - -C "$2"', BACKUP, file, out], { env: { ...process.env, ...env } });
    expect(fs.readFileSync(path.join(out, 'ws-1', 'uploads', 'a'), 'utf8')).toBe(`${CANARY} blob`);
  });
});

describe('compareFingerprints', () => {
  it('names missing tables, extra tables and differing checksums', () => {
    expect(compareFingerprints({ A: { rows: 1, checksum: '1' }, C: { rows: 0, checksum: '0' } }, { A: { rows: 1, checksum: '2' }, B: { rows: 0, checksum: '0' } })).toEqual([
      'A: checksum 1 restored, 2 in the compared database',
      'B: missing from the restore',
      'C: not in the compared database',
    ]);
  });
});
