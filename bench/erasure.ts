/**
 * Erasure of one large workspace: 100,000 chunks in LanceDB, 10,000 uploaded files (rows and
 * encrypted blobs) and 50,000 messages (quick: a tenth), through the real engine and adapters
 * against a private MariaDB. Prints the time of every step and of the residue scan.
 *
 * Baseline: writing the same data (rows, chunks, blobs), so the ratio says how erasure compares
 * with the work of creating what it removes.
 */
import { withBenchStores } from './stores';
import { createHash, randomUUID } from 'node:crypto';
import { createPrismaAuditLog } from '../api/audit/prismaAuditLog';
import { type Database } from '../api/db/client';
import type { BlobStore } from '../api/files/ports';
import type { SearchIndex } from '../api/knowledge/ports';
import { blobNameOf } from '../api/knowledge/uploads';
import { createEraser } from '../api/privacy/erasure';
import { createPrismaErasureJobStore } from '../api/privacy/prismaErasureJobs';
import { createPrismaErasureRows } from '../api/privacy/prismaErasureRows';
import type { BenchContext, BenchResult, Figure } from './stats';

const BENCH = 'erasure';
const CHUNKS_PER_DOCUMENT = 500;
const BATCH = 2_000;

interface Sizes {
  chunks: number;
  files: number;
  messages: number;
}

const hex = (s: string) => createHash('sha256').update(s).digest('hex');

async function seed(db: Database, index: SearchIndex, blobs: BlobStore, sizes: Sizes, log: (line: string) => void): Promise<{ workspaceId: string; seconds: number }> {
  const started = performance.now();
  const workspaceId = randomUUID();
  await db.workspace.create({ data: { id: workspaceId, tenantId: randomUUID(), name: 'Bench workspace' } });
  const userId = randomUUID();
  await db.user.create({ data: { id: userId, workspaceId, entraObjectId: randomUUID(), displayName: 'Bench user' } });
  await db.membership.create({ data: { id: randomUUID(), workspaceId, userId, role: 'admin' } });

  const conversations = Math.max(1, Math.round(sizes.messages / 50));
  const conversationIds = Array.from({ length: conversations }, () => randomUUID());
  await db.conversation.createMany({ data: conversationIds.map((id) => ({ id, workspaceId, userId, channel: 'teams', externalId: id })) });
  for (let i = 0; i < sizes.messages; i += BATCH) {
    const n = Math.min(BATCH, sizes.messages - i);
    await db.message.createMany({ data: Array.from({ length: n }, (_, k) => ({ id: randomUUID(), workspaceId, conversationId: conversationIds[(i + k) % conversations]!, authorUserId: userId, role: 'user' as const, text: `question ${i + k} about the travel policy` })) });
  }
  log(`    ${sizes.messages} messages in ${conversations} conversations`);

  const documents = Math.ceil(sizes.chunks / CHUNKS_PER_DOCUMENT);
  for (let d = 0; d < documents; d++) {
    const documentId = randomUUID();
    await db.document.create({ data: { id: documentId, workspaceId, sourceKind: 'folder', sourceRef: `doc-${d}`, title: `Document ${d}`, mimeType: 'text/plain', contentHash: hex(documentId), sizeBytes: 1000, chunkCount: CHUNKS_PER_DOCUMENT, status: 'indexed', indexedAt: new Date() } });
    const chunks = Array.from({ length: CHUNKS_PER_DOCUMENT }, (_, ordinal) => ({ id: `${documentId}:${ordinal}`, documentId, ordinal, title: `Document ${d}`, sourceRef: `doc-${d}`, text: `Passage ${ordinal} of document ${d}: travel, expenses and leave rules for employees.`, language: 'en' as const }));
    await index.replaceDocument(workspaceId, documentId, chunks);
  }
  log(`    ${documents * CHUNKS_PER_DOCUMENT} chunks in ${documents} documents`);

  const uploadIds = Array.from({ length: sizes.files }, () => randomUUID());
  for (let i = 0; i < uploadIds.length; i += BATCH) {
    await db.upload.createMany({ data: uploadIds.slice(i, i + BATCH).map((id) => ({ id, workspaceId, fileName: `${id}.txt`, mimeType: 'text/plain', kind: 'document', sizeBytes: 64, contentHash: hex(id), indexStatus: 'not_indexed', uploadedByUserId: userId })) });
  }
  for (let i = 0; i < uploadIds.length; i += 50) await Promise.all(uploadIds.slice(i, i + 50).map((id) => blobs.put(workspaceId, blobNameOf(id), Buffer.from(`file ${id}`))));
  log(`    ${sizes.files} uploaded files (rows and blobs)`);
  return { workspaceId, seconds: (performance.now() - started) / 1000 };
}

export async function runErasure({ quick, log }: BenchContext): Promise<BenchResult> {
  const sizes: Sizes = quick ? { chunks: 10_000, files: 1_000, messages: 5_000 } : { chunks: 100_000, files: 10_000, messages: 50_000 };
  return withBenchStores('erasure', async ({ db, index, blobs }) => {

    log(`  seeding one workspace (${sizes.chunks} chunks, ${sizes.files} files, ${sizes.messages} messages):`);
    const seeded = await seed(db, index, blobs, sizes, log);
    log(`  seeded in ${seeded.seconds.toFixed(1)} s`);

    const stepSeconds: Array<[string, number]> = [];
    let mark = performance.now();
    const eraser = createEraser({
      jobs: createPrismaErasureJobStore(db),
      rows: createPrismaErasureRows(db),
      index,
      blobs,
      dataKeys: { destroy: async () => undefined, exists: async () => false },
      audit: createPrismaAuditLog(db),
      afterStep: (_jobId, step) => {
        const now = performance.now();
        stepSeconds.push([step, (now - mark) / 1000]);
        mark = now;
      },
    });
    const started = performance.now();
    const job = await eraser.request({ kind: 'workspace', workspaceId: seeded.workspaceId }, { reason: 'termination' });
    mark = performance.now();
    const view = await eraser.run(job.jobId);
    const scanSeconds = (performance.now() - mark) / 1000;
    const total = (performance.now() - started) / 1000;
    if (view.status !== 'done') throw new Error(`erasure ended ${view.status}: ${(view.residue ?? []).join('; ')}`);

    for (const [step, seconds] of stepSeconds) log(`    step ${step.padEnd(12)} ${seconds.toFixed(2)} s (removed ${view.steps.find((s) => s.name === step)?.removed ?? 0})`);
    log(`    residue scan      ${scanSeconds.toFixed(2)} s (found nothing)`);
    const figures: Figure[] = [
      { benchmark: BENCH, metric: `erase workspace (${sizes.chunks / 1000}k chunks, ${sizes.files / 1000}k files, ${sizes.messages / 1000}k messages)`, value: total, unit: 's', baseline: { label: 'writing the same data', value: seeded.seconds } },
      ...stepSeconds.map(([step, seconds]): Figure => ({ benchmark: BENCH, metric: `step ${step}`, value: seconds, unit: 's', note: `removed ${view.steps.find((s) => s.name === step)?.removed ?? 0}` })),
      { benchmark: BENCH, metric: 'residue scan', value: scanSeconds, unit: 's' },
    ];
    return {
      figures,
      notes: [`${BENCH}: one job through the real engine: MariaDB rows (deleteMany per table), LanceDB delete by workspace filter, the encrypted blob folder removed, the residue scan counting every table, the index and the folder again. The data key step uses a stand-in here (no key store yet).`],
    };
  });
}
