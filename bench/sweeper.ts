/**
 * The retention sweeper on one workspace: 2,000 expired conversations and 500 expired uploads
 * among ten times as many kept ones (quick: a tenth), the expired records erased in batches through
 * the real engine and adapters (MariaDB rows, LanceDB, the encrypted blob folder) as a sweep does.
 *
 * Baseline: the sweeper's selection queries alone (which conversations and uploads have expired),
 * so the ratio says what erasing costs on top of finding.
 */
import { withBenchStores } from './stores';
import { randomUUID } from 'node:crypto';
import { createPrismaAuditLog } from '../api/audit/prismaAuditLog';
import { type Database } from '../api/db/client';
import type { BlobStore } from '../api/files/ports';
import { blobNameOf } from '../api/knowledge/uploads';
import { createEraser } from '../api/privacy/erasure';
import { createPrismaErasureJobStore } from '../api/privacy/prismaErasureJobs';
import { createPrismaErasureRows } from '../api/privacy/prismaErasureRows';
import { createPrismaSweeperSelection } from '../api/privacy/prismaSweeperSelection';
import { createRetentionSweeper, DAY_MS, SWEEP_BATCH_SIZE } from '../api/privacy/sweeper';
import type { BenchContext, BenchResult } from './stats';

const BENCH = 'sweeper';
const BATCH = 2_000;
const KEPT_FACTOR = 10;
const PERIODS = { conversationDays: 30, uploadedFileDays: 180, loginLogDays: 37, inactiveConversationDays: null };

interface Sizes { conversations: number; uploads: number }

async function seed(db: Database, blobs: BlobStore, sizes: Sizes): Promise<string> {
  const workspaceId = randomUUID();
  await db.workspace.create({ data: { id: workspaceId, tenantId: randomUUID(), name: 'Bench workspace' } });
  const userId = randomUUID();
  await db.user.create({ data: { id: userId, workspaceId, entraObjectId: randomUUID(), displayName: 'Bench user' } });
  await db.membership.create({ data: { id: randomUUID(), workspaceId, userId, role: 'admin' } });
  const old = (days: number) => new Date(Date.now() - days * DAY_MS);

  const conversations = Array.from({ length: sizes.conversations * (KEPT_FACTOR + 1) }, (_, i) => ({ id: randomUUID(), createdAt: i < sizes.conversations ? old(60) : old(1) }));
  for (let i = 0; i < conversations.length; i += BATCH) {
    const slice = conversations.slice(i, i + BATCH);
    await db.conversation.createMany({ data: slice.map((c) => ({ id: c.id, workspaceId, userId, channel: 'teams', externalId: c.id, createdAt: c.createdAt })) });
    await db.message.createMany({ data: slice.flatMap((c) => [0, 1].map((m) => ({ id: randomUUID(), workspaceId, conversationId: c.id, authorUserId: m ? null : userId, role: m ? ('assistant' as const) : ('user' as const), text: `message ${m} about the travel policy`, createdAt: c.createdAt }))) });
  }

  const uploads = Array.from({ length: sizes.uploads * (KEPT_FACTOR + 1) }, (_, i) => ({ id: randomUUID(), createdAt: i < sizes.uploads ? old(200) : old(10) }));
  for (let i = 0; i < uploads.length; i += BATCH) {
    await db.upload.createMany({ data: uploads.slice(i, i + BATCH).map((u) => ({ id: u.id, workspaceId, fileName: `${u.id}.txt`, mimeType: 'text/plain', kind: 'document', sizeBytes: 64, contentHash: u.id.replace(/-/g, '').padEnd(64, '0'), indexStatus: 'not_indexed', uploadedByUserId: userId, createdAt: u.createdAt })) });
  }
  for (let i = 0; i < uploads.length; i += 50) await Promise.all(uploads.slice(i, i + 50).map((u) => blobs.put(workspaceId, blobNameOf(u.id), Buffer.from(`file ${u.id}`))));
  return workspaceId;
}

export async function runSweeper({ quick, log }: BenchContext): Promise<BenchResult> {
  const sizes: Sizes = quick ? { conversations: 200, uploads: 50 } : { conversations: 2_000, uploads: 500 };
  return withBenchStores('sweeper', async ({ db, index, blobs }) => {
    log(`  seeding one workspace: ${sizes.conversations} expired and ${sizes.conversations * KEPT_FACTOR} kept conversations (2 messages each), ${sizes.uploads} expired and ${sizes.uploads * KEPT_FACTOR} kept uploads (rows and blobs)`);
    const workspaceId = await seed(db, blobs, sizes);

    const selection = createPrismaSweeperSelection(db);
    const selectStarted = performance.now();
    const found = await selection.conversationsIdleSince(workspaceId, new Date(Date.now() - PERIODS.conversationDays * DAY_MS));
    const foundUploads = await selection.uploadsStoredBefore(workspaceId, new Date(Date.now() - PERIODS.uploadedFileDays * DAY_MS));
    const selectSeconds = (performance.now() - selectStarted) / 1000;
    if (found.length !== sizes.conversations || foundUploads.length !== sizes.uploads) throw new Error(`selection found ${found.length} conversations and ${foundUploads.length} uploads`);

    const audit = createPrismaAuditLog(db);
    const eraser = createEraser({ jobs: createPrismaErasureJobStore(db), rows: createPrismaErasureRows(db), index, blobs, dataKeys: { destroy: async () => undefined, exists: async () => false }, audit });
    const sweeper = createRetentionSweeper({
      selection,
      policies: { effective: async () => PERIODS },
      eraser,
      audit,
      lock: { runExclusive: async (work) => ({ ran: true, result: await work() }) },
      unownedLoginLogDays: 37,
      terminatedWorkspaceEraseDays: 30,
    });
    const started = performance.now();
    const report = await sweeper.sweepAll();
    const seconds = (performance.now() - started) / 1000;
    const removed = report.totals;
    if (removed.conversationDays !== sizes.conversations || removed.uploadedFileDays !== sizes.uploads || removed.failures) throw new Error(`sweep removed ${removed.conversationDays} conversations and ${removed.uploadedFileDays} uploads with ${removed.failures} failures`);
    const keptConversations = await db.conversation.count({ where: { workspaceId } });
    const keptUploads = await db.upload.count({ where: { workspaceId } });
    if (keptConversations !== sizes.conversations * KEPT_FACTOR || keptUploads !== sizes.uploads * KEPT_FACTOR) throw new Error(`kept ${keptConversations} conversations and ${keptUploads} uploads`);
    const erased = sizes.conversations + sizes.uploads;
    log(`    sweep ${seconds.toFixed(2)} s for ${erased} erasures (${((seconds * 1000) / erased).toFixed(1)} ms each); selection alone ${selectSeconds.toFixed(3)} s`);
    return {
      figures: [
        { benchmark: BENCH, metric: `sweep (${sizes.conversations} expired conversations, ${sizes.uploads} expired uploads, ${KEPT_FACTOR}x kept)`, value: seconds, unit: 's', baseline: { label: 'selection queries alone', value: selectSeconds } },
        { benchmark: BENCH, metric: 'per erased record', value: (seconds * 1000) / erased, unit: 'ms' },
      ],
      notes: [`${BENCH}: sweepAll through the real erasure engine, one persisted job per batch of up to ${SWEEP_BATCH_SIZE} expired conversations or uploads (rows, LanceDB, encrypted blob folder, one residue scan per batch); kept records checked untouched afterwards.`],
    };
  });
}
