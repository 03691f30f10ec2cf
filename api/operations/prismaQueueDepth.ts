/**
 * Queue depth for the metrics scrape: unfinished erasure jobs by scope and status, unfinished
 * jobs by kind and status. Two grouped COUNTs over indexed status columns; no workspace ids leave.
 */
import type { Database } from '../db/client';
import type { QueueDepth } from './ports';

export function createPrismaQueueDepth(db: Database): () => Promise<QueueDepth[]> {
  return async () => {
    const [erasures, jobs] = await Promise.all([
      db.$queryRawUnsafe<Array<{ kind: string; status: string; n: bigint | number }>>(
        "SELECT scopeKind AS kind, status, COUNT(*) AS n FROM `ErasureJob` WHERE status IN ('queued', 'running') GROUP BY scopeKind, status",
      ),
      db.$queryRawUnsafe<Array<{ kind: string; status: string; n: bigint | number }>>("SELECT kind, status, COUNT(*) AS n FROM `Job` WHERE status IN ('queued', 'running') GROUP BY kind, status"),
    ]);
    return [
      ...erasures.map((r) => ({ queue: 'erasure', kind: r.kind, status: r.status, count: Number(r.n) })),
      ...jobs.map((r) => ({ queue: 'job', kind: r.kind, status: r.status, count: Number(r.n) })),
    ];
  };
}
