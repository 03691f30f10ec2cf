/** ExportJobStore on MySQL through Prisma: the Job table, kind 'export'. */
import type { Database } from '../db/client';
import type { ExportJob, ExportJobStore, ExportProgress, ExportScope } from './exportPorts';

const KIND = 'export';

type Row = Awaited<ReturnType<Database['job']['findFirstOrThrow']>>;

interface Payload {
  scope: ExportScope;
  requestedByUserId: string;
}

function toJob(row: Row): ExportJob {
  const payload = row.payload as unknown as Payload;
  const progress = (row.progress as unknown as ExportProgress | null) ?? { phase: 'queued', filesDone: 0, filesTotal: 0 };
  return {
    id: row.id,
    workspaceId: row.workspaceId,
    scope: payload.scope,
    requestedByUserId: payload.requestedByUserId,
    status: row.status,
    progress,
    attempts: row.attempts,
    lockedBy: row.lockedBy ?? undefined,
    lockedAt: row.lockedAt ?? undefined,
    lastError: row.lastError ?? undefined,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

const asJson = <T>(value: T) => value as unknown as object;

export function createPrismaExportJobStore(db: Database): ExportJobStore {
  const find = async (workspaceId: string, id: string) => {
    const row = await db.job.findFirst({ where: { workspaceId, id, kind: KIND } });
    return row ? toJob(row) : undefined;
  };
  return {
    async create({ id, scope, requestedByUserId, now }) {
      const payload: Payload = { scope, requestedByUserId };
      const progress: ExportProgress = { phase: 'queued', filesDone: 0, filesTotal: 0 };
      return toJob(await db.job.create({ data: { id, workspaceId: scope.workspaceId, kind: KIND, status: 'queued', payload: asJson(payload), progress: asJson(progress), runAfter: now, createdAt: now } }));
    },
    find,
    async listActive(workspaceId) {
      return (await db.job.findMany({ where: { workspaceId, kind: KIND, status: { in: ['queued', 'running'] } }, orderBy: { createdAt: 'asc' } })).map(toJob);
    },
    async claim(workspaceId, id, worker, now, staleBefore) {
      const taken = await db.job.updateMany({
        where: { workspaceId, id, kind: KIND, OR: [{ status: 'queued' }, { status: 'running', lockedAt: { lt: staleBefore } }] },
        data: { status: 'running', lockedBy: worker, lockedAt: now, attempts: { increment: 1 }, lastError: null },
      });
      return taken.count === 1 ? find(workspaceId, id) : undefined;
    },
    async saveProgress(workspaceId, id, worker, progress, now) {
      const saved = await db.job.updateMany({ where: { workspaceId, id, kind: KIND, status: 'running', lockedBy: worker }, data: { progress: asJson(progress), lockedAt: now } });
      return saved.count === 1;
    },
    async finish(workspaceId, id, worker, outcome, now) {
      const done = await db.job.updateMany({
        where: { workspaceId, id, kind: KIND, status: 'running', lockedBy: worker },
        data: { status: outcome.status, progress: asJson(outcome.progress), lastError: outcome.error ?? null, lockedBy: null, lockedAt: null, runAfter: now },
      });
      return done.count === 1;
    },
    async workspacesWithJobs() {
      // Workspace is not tenant-owned: this lookup crosses workspaces; every job read after it names one.
      return (await db.workspace.findMany({ where: { jobs: { some: { kind: KIND } } }, select: { id: true } })).map((w) => w.id);
    },
    async listCreatedBefore(workspaceId, createdBefore) {
      return (await db.job.findMany({ where: { workspaceId, kind: KIND, createdAt: { lt: createdBefore } } })).map(toJob);
    },
    async listResumable(workspaceId, staleBefore) {
      // A queued job is started by the process that created it at once: one still queued after the
      // stale period lost that process.
      const lost = [{ status: 'queued' as const, createdAt: { lt: staleBefore } }, { status: 'running' as const, lockedAt: { lt: staleBefore } }];
      return (await db.job.findMany({ where: { workspaceId, kind: KIND, OR: lost }, orderBy: { createdAt: 'asc' } })).map(toJob);
    },
    async remove(workspaceId, id) {
      await db.job.deleteMany({ where: { workspaceId, id, kind: KIND } });
    },
  };
}
