/** ErasureJobStore on MySQL through Prisma (table ErasureJob; see its comment in schema.prisma). */
import type { Database } from '../db/client';
import { fail } from '../errors';
import type { Prisma } from '../db/generated/client';
import type { ErasureJobStore, ErasurePlan, ErasureStepState, StoredErasureJob } from './erasurePorts';
import type { ErasureStatus } from './ports';

type Row = NonNullable<Awaited<ReturnType<Database['erasureJob']['findUnique']>>>;

function toJob(row: Row): StoredErasureJob {
  return {
    id: row.id,
    plan: row.plan as unknown as ErasurePlan,
    requestedByUserId: row.requestedByUserId ?? undefined,
    reason: row.reason,
    status: row.status as ErasureStatus,
    steps: row.steps as unknown as ErasureStepState[],
    residue: (row.residue as string[] | null) ?? undefined,
    attempts: row.attempts,
    requestedAt: row.requestedAt,
    finishedAt: row.finishedAt ?? undefined,
    statusTokenHash: row.statusTokenHash ?? undefined,
  };
}

const json = (value: unknown) => value as Prisma.InputJsonValue;

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002';
}

export function createPrismaErasureJobStore(db: Database): ErasureJobStore {
  return {
    async createOrJoin(job, activeKey) {
      const { scope } = job.plan;
      // A workspace or a batch has no single target (a batch's ids are in its plan).
      const targetId = scope.kind === 'user' ? scope.userId : scope.kind === 'conversation' ? scope.conversationId : scope.kind === 'upload' ? scope.uploadId : null;
      // Twice at most: the unfinished job holding the key may finish between the insert and the read.
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          const row = await db.erasureJob.create({
            data: {
              id: job.id,
              workspaceId: scope.workspaceId,
              tenantId: job.plan.tenantId,
              scopeKind: scope.kind,
              targetId,
              plan: json(job.plan),
              requestedByUserId: job.requestedByUserId ?? null,
              reason: job.reason,
              status: job.status,
              steps: json(job.steps),
              activeKey,
              statusTokenHash: job.statusTokenHash ?? null,
              requestedAt: job.requestedAt,
            },
          });
          return { job: toJob(row), joined: false };
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
        }
        const running = await db.erasureJob.findUnique({ where: { activeKey } });
        if (running) return { job: toJob(running), joined: true };
      }
      return fail('internal', `Erasure job for ${activeKey} could be neither created nor found`);
    },
    async find(jobId) {
      const row = await db.erasureJob.findUnique({ where: { id: jobId } });
      return row ? toJob(row) : undefined;
    },
    async findInWorkspace(workspaceId, jobId) {
      const row = await db.erasureJob.findFirst({ where: { id: jobId, workspaceId } });
      return row ? toJob(row) : undefined;
    },
    async saveProgress(jobId, progress) {
      await db.erasureJob.update({
        where: { id: jobId },
        data: { status: progress.status, steps: json(progress.steps), ...(progress.attempts === undefined ? {} : { attempts: progress.attempts }), ...(progress.lastError === undefined ? {} : { lastError: progress.lastError.slice(0, 1024) }) },
      });
    },
    async finish(jobId, outcome) {
      await db.erasureJob.update({
        where: { id: jobId },
        data: { status: outcome.status, steps: json(outcome.steps), residue: json(outcome.residue), plan: json(outcome.plan), activeKey: null, finishedAt: new Date() },
      });
    },
    async unfinished(idleSince) {
      const rows = await db.erasureJob.findMany({ where: { status: { in: ['queued', 'running'] }, updatedAt: { lte: idleSince } }, select: { id: true }, orderBy: { requestedAt: 'asc' } });
      return rows.map((r) => r.id);
    },
  };
}
