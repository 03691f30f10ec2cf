/**
 * Data export of a whole workspace: the time to build the zip (reading every record from MariaDB
 * and every file from the encrypted-folder blob store, decrypting, deflating, storing the archive
 * encrypted) and its size, against a baseline that writes the very same entries (JSON already in
 * memory, file bytes already decrypted) into the same zip writer with no database or blob reads.
 * The difference is what the reads, decryption and the final encrypted put cost.
 */
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPrismaAuditLog } from '../api/audit/prismaAuditLog';
import { createDatabase, type Database } from '../api/db/client';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../api/db/embeddedMariadb';
import { migrateDatabase } from '../api/db/migrate';
import { createDownloadLinkSigner } from '../api/files/downloadLinks';
import { createEncryptedFolderStore } from '../api/files/encryptedFolderStore';
import { blobNameOf } from '../api/knowledge/uploads';
import { createExports, exportBlobKey } from '../api/privacy/export';
import { createZipArchive } from '../api/privacy/exportZip';
import { createPrismaExportJobStore } from '../api/privacy/prismaExportJobs';
import { createPrismaExportRecords } from '../api/privacy/prismaExportRecords';
import type { Principal } from '../api/tenancy/principal';
import type { BenchContext, BenchResult } from './stats';

const BENCH = 'export';
const WORDS = 'leave travel policy approval budget contract invoice workshop client holiday expense report meeting schedule review'.split(' ');

/** Text that compresses like prose (not like random bytes, not like a repeated string). */
function prose(bytes: number): Buffer {
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    const word = WORDS[Math.floor(Math.random() * WORDS.length)]!;
    parts.push(word);
    length += word.length + 1;
  }
  return Buffer.from(parts.join(' ').slice(0, bytes));
}

async function seed(db: Database, blobs: ReturnType<typeof createEncryptedFolderStore>, workspaceId: string, sizes: { users: number; conversations: number; messages: number; files: number; fileBytes: number }) {
  const users = Array.from({ length: sizes.users }, () => randomUUID());
  for (const id of users) {
    await db.user.create({ data: { id, workspaceId, entraObjectId: randomUUID(), displayName: `User ${id.slice(0, 8)}` } });
    await db.membership.create({ data: { id: randomUUID(), workspaceId, userId: id, role: 'user' } });
  }
  const perConversation = Math.ceil(sizes.messages / sizes.conversations);
  for (let c = 0; c < sizes.conversations; c++) {
    const conversationId = randomUUID();
    const userId = users[c % users.length]!;
    await db.conversation.create({ data: { id: conversationId, workspaceId, userId, channel: 'teams', externalId: conversationId } });
    await db.message.createMany({
      data: Array.from({ length: perConversation }, (_, m) => ({ id: randomUUID(), workspaceId, conversationId, authorUserId: m % 2 ? null : userId, role: m % 2 ? ('assistant' as const) : ('user' as const), text: prose(m % 2 ? 600 : 120).toString() })),
    });
  }
  for (let f = 0; f < sizes.files; f++) {
    const id = randomUUID();
    const bytes = prose(sizes.fileBytes);
    await blobs.put(workspaceId, blobNameOf(id), bytes);
    await db.upload.create({ data: { id, workspaceId, fileName: `document-${f}.txt`, mimeType: 'text/plain', kind: 'document', sizeBytes: bytes.length, contentHash: createHash('sha256').update(bytes).digest('hex'), indexStatus: 'indexed', uploadedByUserId: users[f % users.length]! } });
  }
}

export async function runExport(context: BenchContext): Promise<BenchResult> {
  const { quick, log } = context;
  const sizes = quick ? { users: 10, conversations: 20, messages: 1_000, files: 100, fileBytes: 16_000 } : { users: 50, conversations: 200, messages: 10_000, files: 1_000, fileBytes: 16_000 };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-export-'));
  // mariadbd runs as the mysql user when we are root, and must be able to enter the folder.
  fs.chmodSync(root, 0o755);
  let mariadb: EmbeddedMariadb | undefined;
  let db: Database | undefined;
  try {
    mariadb = await startEmbeddedMariadb({ dir: path.join(root, 'mariadb') });
    const databaseUrl = await mariadb.createDatabase('kluis_bench_export');
    await migrateDatabase(databaseUrl);
    db = createDatabase(databaseUrl);
    const blobs = createEncryptedFolderStore(path.join(root, 'blobs'));
    const workspaceId = randomUUID();
    await db.workspace.create({ data: { id: workspaceId, name: 'Bench', tenantId: randomUUID() } });
    const adminId = randomUUID();
    await db.user.create({ data: { id: adminId, workspaceId, entraObjectId: randomUUID() } });
    let started = performance.now();
    await seed(db, blobs, workspaceId, sizes);
    log(`  seeded ${sizes.messages} messages and ${sizes.files} files of ${sizes.fileBytes / 1000} KB in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const exports = createExports({ jobs: createPrismaExportJobStore(db), records: createPrismaExportRecords(db), blobs, archive: () => createZipArchive(), signer: createDownloadLinkSigner(randomBytes(32), 60), audit: createPrismaAuditLog(db) });
    const admin: Principal = { workspaceId, tenantId: 'bench', userId: adminId, roles: ['admin'], authMethod: 'entra-token' };
    const rssBefore = process.memoryUsage().rss;
    started = performance.now();
    const view = await exports.request(admin, 'workspace');
    await exports.settled();
    const exportMs = performance.now() - started;
    const rssAfter = process.memoryUsage().rss;
    const archive = (await blobs.get(workspaceId, exportBlobKey(view.id)))!;
    log(`  export: ${(exportMs / 1000).toFixed(2)} s, ${(archive.length / 1e6).toFixed(1)} MB`);

    // Baseline: the same entries, already in memory, into the same zip writer.
    const records = createPrismaExportRecords(db);
    const filter = { workspaceId };
    started = performance.now();
    const entries: Array<[string, Buffer | string]> = [];
    for (const [name, value] of Object.entries({
      'workspace.json': await records.workspace(workspaceId), 'members.json': await records.members(filter), 'conversations.json': await records.conversations(filter), 'feedback.json': await records.feedback(filter), 'usage.json': await records.usage(filter),
      'sources.json': await records.sources(workspaceId), 'documents.json': await records.documents(workspaceId), 'settings.json': await records.settings(workspaceId), 'audit-events.json': await records.auditEvents(workspaceId), 'uploads.json': await records.uploads(filter),
    })) entries.push([name, `${JSON.stringify(value, null, 2)}\n`]);
    for (const upload of await records.uploads(filter)) entries.push([`files/${upload.id}/${upload.fileName}`, (await blobs.get(workspaceId, blobNameOf(upload.id)))!]);
    const readMs = performance.now() - started;
    log(`  reading the same records and files alone: ${(readMs / 1000).toFixed(2)} s`);
    started = performance.now();
    const zip = createZipArchive();
    for (const [name, content] of entries) await zip.add(name, content);
    const plain = await zip.finish();
    const baselineMs = performance.now() - started;
    log(`  baseline zip: ${(baselineMs / 1000).toFixed(2)} s, ${(plain.length / 1e6).toFixed(1)} MB`);

    const rawBytes = entries.reduce((sum, [, c]) => sum + Buffer.byteLength(c), 0);
    return {
      figures: [
        { benchmark: BENCH, metric: `workspace export, ${sizes.files} files + ${sizes.messages} messages`, value: exportMs / 1000, unit: 's', baseline: { label: 'same bytes into a plain zip', value: baselineMs / 1000 } },
        { benchmark: BENCH, metric: 'reading the records and files alone', value: readMs / 1000, unit: 's', note: 'Prisma reads + blob decryption, no zip' },
        { benchmark: BENCH, metric: 'export archive size', value: archive.length / 1e6, unit: 'MB', baseline: { label: 'plain zip of the same bytes', value: plain.length / 1e6 } },
        { benchmark: BENCH, metric: 'uncompressed content', value: rawBytes / 1e6, unit: 'MB' },
        { benchmark: BENCH, metric: 'RSS growth during the export', value: Math.max(0, rssAfter - rssBefore) / 1e6, unit: 'MB', note: 'the archive is built in memory, then stored in one put' },
      ],
      notes: [
        `${BENCH}: the export reads ${sizes.messages} messages in ${sizes.conversations} conversations, ${sizes.files} uploads (each decrypted from the encrypted folder), deflates at level 6 and stores the archive encrypted; the baseline deflates the same entries at the same level with nothing to read or store.`,
      ],
    };
  } finally {
    await db?.$disconnect().catch(() => undefined);
    await mariadb?.stop().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
