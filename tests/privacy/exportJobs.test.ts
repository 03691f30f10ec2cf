/**
 * Export jobs below HTTP, on the real database and the encrypted-folder blob store, with the clock
 * injected: a crash mid-build leaves nothing downloadable and a rerun succeeds, a worker that
 * comes back after its job was taken over cannot overwrite it, and exports are purged (archive and
 * row) seven days after they were requested, not before.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import { createDownloadLinkSigner } from '../../api/files/downloadLinks';
import { createEncryptedFolderStore } from '../../api/files/encryptedFolderStore';
import type { BlobStore } from '../../api/files/ports';
import { createExports, exportBlobKey } from '../../api/privacy/export';
import { createZipArchive } from '../../api/privacy/exportZip';
import { createPrismaExportJobStore } from '../../api/privacy/prismaExportJobs';
import { createPrismaExportRecords } from '../../api/privacy/prismaExportRecords';
import type { Principal } from '../../api/tenancy/principal';
import { openTestDatabase } from '../support/database';
import { readArchive, seedUser } from './exportSeed';

const db = openTestDatabase();
const linkKey = randomBytes(32);
const DAY = 86_400_000;
const MINUTE = 60_000;

describe('export jobs (crash, takeover, purge)', () => {
  const tenantId = randomUUID();
  const workspaceId = randomUUID();
  let dir: string;
  let blobs: BlobStore;
  let admin: Principal;

  /** A Kluis process as far as exports go: its own worker id, clock and blob store. */
  function exporter(clock: () => Date, store: BlobStore = blobs) {
    return createExports({
      jobs: createPrismaExportJobStore(db),
      records: createPrismaExportRecords(db),
      blobs: store,
      archive: () => createZipArchive(),
      signer: createDownloadLinkSigner(linkKey, 60),
      audit: createPrismaAuditLog(db),
      now: clock,
      staleAfterMs: 10 * MINUTE,
    });
  }

  const jobRow = (id: string) => db.job.findFirst({ where: { workspaceId, id } });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-export-'));
    blobs = createEncryptedFolderStore(dir);
    await db.workspace.create({ data: { id: workspaceId, name: 'Export jobs', tenantId } });
    const adminId = randomUUID();
    await db.user.create({ data: { id: adminId, workspaceId, entraObjectId: randomUUID() } });
    await db.membership.create({ data: { id: randomUUID(), workspaceId, userId: adminId, role: 'admin' } });
    admin = { workspaceId, tenantId, userId: adminId, roles: ['admin'], authMethod: 'entra-token' };
    await seedUser(db, blobs, workspaceId, { label: 'jobs', conversations: 3, messagesPerConversation: 4, files: 5 });
  });

  afterAll(async () => {
    await db.workspace.deleteMany({ where: { id: workspaceId } });
    fs.rmSync(dir, { recursive: true, force: true });
    await db.$disconnect();
  });

  it('a build that dies mid-way leaves no downloadable archive, and the rerun after the lock went stale builds it whole', async () => {
    const start = new Date();
    // The first process hangs for good while reading the third file: it stands for a process that died there.
    let reads = 0;
    let release: () => void = () => undefined;
    const hanging = new Promise<void>((resolve) => (release = resolve));
    const dying: BlobStore = {
      ...blobs,
      async get(ws, key) {
        if (key.startsWith('uploads/') && ++reads === 3) await hanging;
        return blobs.get(ws, key);
      },
    };
    const first = exporter(() => start, dying);
    const view = await first.request(admin, 'workspace');
    await waitFor(async () => ((await jobRow(view.id))?.progress as { phase?: string } | null)?.phase === 'files');

    const during = await first.status(admin, view.id, 'workspace');
    expect(during).toMatchObject({ status: 'running', progress: { phase: 'files', filesTotal: 5 } });
    expect(during.download).toBeUndefined();
    expect(await blobs.get(workspaceId, exportBlobKey(view.id))).toBeUndefined();
    // Even a correctly signed link (as if issued) finds nothing to serve.
    const forged = createDownloadLinkSigner(linkKey, 60).sign({ workspaceId, fileId: view.id, userId: admin.userId }, start);
    await expect(first.download(admin, forged.token)).rejects.toMatchObject({ id: 'export_not_ready' });

    // A second process, before the lock is stale, leaves the job alone; after, it builds it again.
    const second = exporter(() => new Date(start.getTime() + 5 * MINUTE));
    expect(await second.resumeInterrupted(workspaceId)).toBe(0);
    const later = exporter(() => new Date(start.getTime() + 11 * MINUTE));
    expect(await later.resumeInterrupted(workspaceId)).toBe(1);
    const done = await later.status(admin, view.id, 'workspace');
    expect(done).toMatchObject({ status: 'done', progress: { phase: 'done', filesDone: 5, filesTotal: 5 } });
    expect((await jobRow(view.id))?.attempts).toBe(2);
    const archive = await later.download(admin, done.download!.token);
    const zip = await readArchive(archive.bytes);
    const uploads = await db.upload.findMany({ where: { workspaceId } });
    for (const upload of uploads) expect((await blobs.get(workspaceId, `uploads/${upload.id}`))!.equals(zip.bytes(`files/${upload.id}/${upload.fileName}`))).toBe(true);
    const stored = await blobs.get(workspaceId, exportBlobKey(view.id));

    // The first process wakes up: it lost the job, so it neither finishes it nor replaces the archive.
    release();
    await first.settled();
    expect((await jobRow(view.id))?.status).toBe('succeeded');
    expect((await blobs.get(workspaceId, exportBlobKey(view.id)))!.equals(stored!)).toBe(true);
  });

  it('a build that fails is marked failed, serves nothing, and a new request builds a fresh export', async () => {
    const broken: BlobStore = { ...blobs, get: async () => { throw new Error('disk gone'); } };
    const failing = exporter(() => new Date(), broken);
    const errors: unknown[] = [];
    const view = await createExports({
      jobs: createPrismaExportJobStore(db), records: createPrismaExportRecords(db), blobs: broken, archive: () => createZipArchive(), signer: createDownloadLinkSigner(linkKey, 60), audit: createPrismaAuditLog(db),
      onBackgroundError: (error) => errors.push(error),
    }).request(admin, 'workspace');
    await waitFor(async () => (await jobRow(view.id))?.status === 'failed');
    expect(await failing.status(admin, view.id, 'workspace')).toMatchObject({ status: 'failed' });
    expect(await blobs.get(workspaceId, exportBlobKey(view.id))).toBeUndefined();
    const retry = exporter(() => new Date());
    const again = await retry.request(admin, 'workspace');
    expect(again.id).not.toBe(view.id);
    await retry.settled();
    expect((await retry.status(admin, again.id, 'workspace')).status).toBe('done');
  });

  it('purges an export seven days after it was requested (archive and row), and not a minute before', async () => {
    const requested = new Date();
    const clock = { now: requested };
    const exports = exporter(() => clock.now);
    const view = await exports.request(admin, 'workspace');
    await exports.settled();
    expect(await blobs.get(workspaceId, exportBlobKey(view.id))).toBeDefined();

    clock.now = new Date(requested.getTime() + 7 * DAY - MINUTE);
    expect(await exports.purgeExpiredExports(workspaceId)).toBe(0);
    expect(await jobRow(view.id)).not.toBeNull();
    expect((await exports.status(admin, view.id, 'workspace')).status).toBe('done');

    clock.now = new Date(requested.getTime() + 7 * DAY + MINUTE);
    // Past its seven days an export is gone for its users even before the purge ran.
    await expect(exports.status(admin, view.id, 'workspace')).rejects.toMatchObject({ id: 'not_found' });
    expect(await exports.purgeExpiredExports(workspaceId)).toBeGreaterThanOrEqual(1);
    expect(await jobRow(view.id)).toBeNull();
    expect(await blobs.get(workspaceId, exportBlobKey(view.id))).toBeUndefined();
    expect(await db.auditEvent.count({ where: { workspaceId, kind: 'export.purged' } })).toBeGreaterThanOrEqual(1);
  });

  it("removes, for a user's erasure, every export holding their data and no other", async () => {
    const exports = exporter(() => new Date());
    const member: Principal = { ...admin, userId: (await seedUser(db, blobs, workspaceId, { label: 'erased' })).userId, roles: ['user'] };
    const bystander: Principal = { ...admin, userId: (await seedUser(db, blobs, workspaceId, { label: 'kept' })).userId, roles: ['user'] };
    const own = await exports.request(member, 'user');
    const whole = await exports.request(admin, 'workspace');
    const other = await exports.request(bystander, 'user');
    await exports.settled();
    expect(await exports.removeExportsContaining(workspaceId, member.userId)).toBeGreaterThanOrEqual(2);
    for (const gone of [own.id, whole.id]) {
      expect(await jobRow(gone)).toBeNull();
      expect(await blobs.get(workspaceId, exportBlobKey(gone))).toBeUndefined();
    }
    expect((await exports.status(bystander, other.id, 'user')).status).toBe('done');
    expect(await blobs.get(workspaceId, exportBlobKey(other.id))).toBeDefined();
  });

  it('refuses a workspace export to a manager (admins only)', async () => {
    const member: Principal = { ...admin, userId: randomUUID(), roles: ['manager'] };
    await expect(exporter(() => new Date()).request(member, 'workspace')).rejects.toMatchObject({ id: 'forbidden' });
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
