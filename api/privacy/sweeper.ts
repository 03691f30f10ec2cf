/**
 * The retention sweeper: applies every workspace's retention policy and erases what has expired.
 *
 * The data-protection statement promises storage limitation with concrete periods (uploaded files
 * six months by default, the login log "a month and a week", deletion "within 30 days" after a
 * contract ends), so expired records are not merely hidden: conversations, uploads and terminated
 * workspaces go through the erasure engine (the same persisted, resumable steps an admin's erasure
 * takes, across database, search index and blob store); login attempts, which live in one table
 * only, are purged directly.
 *
 * Expired records are erased in batches: one erasure job (scope `conversations` or `uploads`) per
 * rule and workspace for up to `batchSize` records, so a sweep pays one job, one pass over each
 * store and one residue scan per batch rather than per record. A batch's job key names its exact
 * set of records, so a sweep that selects the same set again (after a crash) joins the unfinished
 * job, and a restart resumes it like any other erasure.
 *
 * A sweep never stops at the first failure: a batch that fails is retried record by record, so the
 * failing record is reported (rule, target id, error id) and the others still go. The report holds counts and ids, never content, and
 * each workspace's part is audited as `retention.swept`.
 */
import type { AuditLog } from '../audit/ports';
import { fail, isKluisError } from '../errors';
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';
import type { Eraser, ErasureScope, RetentionPeriods } from './ports';

export const DAY_MS = 86_400_000;

/** The rules a sweep applies, as named in reports and audit events. */
export type SweepRule = 'conversationDays' | 'inactiveConversationDays' | 'uploadedFileDays' | 'loginLogDays' | 'terminatedWorkspace';

/** What the sweeper needs to find expired records (api/privacy/prismaSweeperSelection.ts). */
export interface RetentionSelection {
  /** Every workspace, terminated ones included. */
  workspaceIds(): Promise<string[]>;
  /** Conversations whose last message (their creation, when they have none) is before `cutoff`. */
  conversationsIdleSince(workspaceId: string, cutoff: Date): Promise<string[]>;
  /** Uploads stored before `cutoff`. */
  uploadsStoredBefore(workspaceId: string, cutoff: Date): Promise<string[]>;
  /** Deletes the workspace's login attempts before `cutoff`; returns how many. */
  purgeLoginAttempts(workspaceId: string, cutoff: Date): Promise<number>;
  /** Deletes login attempts that name no existing workspace, before `cutoff`; returns how many. */
  purgeUnownedLoginAttempts(cutoff: Date): Promise<number>;
  /** Workspaces terminated before `cutoff`. */
  terminatedBefore(cutoff: Date): Promise<string[]>;
}

/** A lock shared by every replica, so one scheduled sweep runs at a time across the deployment. */
export interface SweepLock {
  /** Runs `work` when the lock is free; `{ ran: false }` at once when another holder has it. */
  runExclusive<T>(work: () => Promise<T>): Promise<{ ran: true; result: T } | { ran: false }>;
}

export interface SweepFailure {
  /** The rule whose erasure failed, or `workspace` when the workspace's sweep could not even start. */
  rule: SweepRule | 'workspace' | 'upkeep';
  workspaceId: string;
  /** The conversation, upload or workspace id whose erasure failed. */
  targetId: string;
  /** The error's catalogue id, or the erasure job's status; never a message that might quote data. */
  error: string;
}

export interface WorkspaceSweep {
  workspaceId: string;
  removed: Record<SweepRule, number>;
  failures: SweepFailure[];
}

export interface SweepReport {
  startedAt: string;
  finishedAt: string;
  workspaces: WorkspaceSweep[];
  /** Login attempts that belong to no workspace, purged after the global period. */
  unownedLoginAttemptsPurged: number;
  /** Workspaces whose erasure was requested because they were terminated long enough ago. */
  terminated: { erased: number; failures: SweepFailure[] };
  totals: Record<SweepRule, number> & { failures: number };
}

export interface RetentionSweeper {
  /** One full sweep of every workspace (the schedule and operators call this). */
  sweepAll(): Promise<SweepReport>;
  /** A sweep of the asker's own workspace only (admins, `POST /api/workspace/retention/sweep`). */
  sweepWorkspaceOf(principal: Principal): Promise<WorkspaceSweep>;
  /**
   * The scheduled entry: skips (returns undefined) while a sweep of this process is still running
   * or another replica holds the shared lock.
   */
  sweepOnSchedule(): Promise<SweepReport | undefined>;
}

export interface RetentionSweeperDeps {
  selection: RetentionSelection;
  policies: { effective(workspaceId: string): Promise<RetentionPeriods> };
  eraser: Pick<Eraser, 'request' | 'run'>;
  audit: AuditLog;
  lock: SweepLock;
  /** Login attempts naming no workspace are kept this many days (LOGIN_ATTEMPT_RETENTION_DAYS). */
  unownedLoginLogDays: number;
  /** A terminated workspace is erased this many days after its termination (TERMINATED_WORKSPACE_ERASE_DAYS). */
  terminatedWorkspaceEraseDays: number;
  /**
   * Upkeep that follows the same periods: client IPs in audit events go with the login log
   * (loginLogDays), audit events after `auditRetentionDays`, data exports after their 7 days.
   */
  upkeep?: {
    auditRetentionDays: number;
    audit: { eraseIpsOlderThan(cutoff: Date, options: { workspaceId: string }): Promise<number>; pruneOlderThan(cutoff: Date, options: { workspaceId: string }): Promise<{ deleted: number; failed: unknown[] }> };
    exports: { purgeExpiredExports(workspaceId?: string): Promise<number> };
  };
  /** Records per erasure job; SWEEP_BATCH_SIZE unless set. */
  batchSize?: number;
  now?: () => Date;
}

/** Records per erasure job of a sweep: large enough to spread a job's fixed cost, small enough for one `IN` list and one job row. */
export const SWEEP_BATCH_SIZE = 500;

const noRemovals = (): Record<SweepRule, number> => ({ conversationDays: 0, inactiveConversationDays: 0, uploadedFileDays: 0, loginLogDays: 0, terminatedWorkspace: 0 });

const before = (now: Date, days: number): Date => new Date(now.getTime() - days * DAY_MS);

const errorIdOf = (error: unknown): string => (isKluisError(error) ? error.id : 'unexpected');

export function createRetentionSweeper(deps: RetentionSweeperDeps): RetentionSweeper {
  const now = deps.now ?? (() => new Date());

  /** Requests and runs one erasure; a job that ends other than `done` counts as a failure. */
  async function erase(scope: ErasureScope, reason: 'retention' | 'termination', goneIsDone = false): Promise<string | undefined> {
    try {
      const job = await deps.eraser.request(scope, { reason });
      const finished = job.status === 'done' ? job : await deps.eraser.run(job.jobId);
      return finished.status === 'done' ? undefined : `erasure_${finished.status}`;
    } catch (error) {
      // Retried after its batch failed: a record the batch already erased is done, not a failure.
      if (goneIsDone && isKluisError(error, 'not_found')) return undefined;
      return errorIdOf(error);
    }
  }

  async function eraseInBatches(sweep: WorkspaceSweep, rule: SweepRule, ids: string[], batchOf: (ids: string[]) => ErasureScope, oneOf: (id: string) => ErasureScope): Promise<void> {
    const size = Math.max(1, deps.batchSize ?? SWEEP_BATCH_SIZE);
    for (let start = 0; start < ids.length; start += size) {
      const batch = ids.slice(start, start + size);
      const failed = await erase(batchOf(batch), 'retention');
      if (!failed) {
        sweep.removed[rule] += batch.length;
        continue;
      }
      if (batch.length === 1) {
        sweep.failures.push({ rule, workspaceId: sweep.workspaceId, targetId: batch[0]!, error: failed });
        continue;
      }
      for (const id of batch) {
        const failedOne = await erase(oneOf(id), 'retention', true);
        if (failedOne) sweep.failures.push({ rule, workspaceId: sweep.workspaceId, targetId: id, error: failedOne });
        else sweep.removed[rule] += 1;
      }
    }
  }

  /** Audit IPs, old audit events and expired exports; a failure is reported, the sweep goes on. */
  async function upkeep(u: NonNullable<RetentionSweeperDeps['upkeep']>, sweep: WorkspaceSweep, workspaceId: string, at: Date, loginLogDays: number): Promise<void> {
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['auditIps', () => u.audit.eraseIpsOlderThan(before(at, loginLogDays), { workspaceId })],
      ['auditEvents', async () => {
        const report = await u.audit.pruneOlderThan(before(at, u.auditRetentionDays), { workspaceId });
        if (report.failed.length) fail('internal', 'the audit chain of this workspace did not verify; nothing pruned');
      }],
      ['exports', () => u.exports.purgeExpiredExports(workspaceId)],
    ];
    for (const [name, run] of steps) {
      try {
        await run();
      } catch (error) {
        sweep.failures.push({ rule: 'upkeep', workspaceId, targetId: name, error: errorIdOf(error) });
      }
    }
  }

  async function sweepWorkspace(workspaceId: string, at: Date, actorUserId?: string): Promise<WorkspaceSweep> {
    const sweep: WorkspaceSweep = { workspaceId, removed: noRemovals(), failures: [] };
    const policy = await deps.policies.effective(workspaceId);
    const conversation = (conversationId: string): ErasureScope => ({ kind: 'conversation', workspaceId, conversationId });
    const conversations = (conversationIds: string[]): ErasureScope => ({ kind: 'conversations', workspaceId, conversationIds });

    // Both conversation rules measure time since the last message; one conversation is erased once,
    // under the first rule that selects it.
    const taken = new Set<string>();
    for (const rule of ['conversationDays', 'inactiveConversationDays'] as const) {
      const days = policy[rule];
      if (days === null) continue;
      const ids = (await deps.selection.conversationsIdleSince(workspaceId, before(at, days))).filter((id) => !taken.has(id));
      ids.forEach((id) => taken.add(id));
      await eraseInBatches(sweep, rule, ids, conversations, conversation);
    }
    const uploads = await deps.selection.uploadsStoredBefore(workspaceId, before(at, policy.uploadedFileDays));
    await eraseInBatches(sweep, 'uploadedFileDays', uploads, (uploadIds) => ({ kind: 'uploads', workspaceId, uploadIds }), (uploadId) => ({ kind: 'upload', workspaceId, uploadId }));
    sweep.removed.loginLogDays = await deps.selection.purgeLoginAttempts(workspaceId, before(at, policy.loginLogDays));
    if (deps.upkeep) await upkeep(deps.upkeep, sweep, workspaceId, at, policy.loginLogDays);

    const removedAny = Object.values(sweep.removed).some((n) => n > 0);
    if (removedAny || sweep.failures.length || actorUserId) {
      await deps.audit.record({
        workspaceId,
        ...(actorUserId ? { actorUserId } : {}),
        kind: 'retention.swept',
        outcome: sweep.failures.length ? 'failure' : 'success',
        detail: { ...sweep.removed, failures: sweep.failures.length, trigger: actorUserId ? 'admin' : 'schedule' },
      });
    }
    return sweep;
  }

  async function sweepAll(): Promise<SweepReport> {
    const at = now();
    const workspaces: WorkspaceSweep[] = [];
    for (const workspaceId of await deps.selection.workspaceIds()) {
      try {
        workspaces.push(await sweepWorkspace(workspaceId, at));
      } catch (error) {
        // A workspace whose policy or selection cannot be read is reported; the others still run.
        workspaces.push({ workspaceId, removed: noRemovals(), failures: [{ rule: 'workspace', workspaceId, targetId: workspaceId, error: errorIdOf(error) }] });
      }
    }
    const unownedLoginAttemptsPurged = await deps.selection.purgeUnownedLoginAttempts(before(at, deps.unownedLoginLogDays));

    const terminated = { erased: 0, failures: [] as SweepFailure[] };
    for (const workspaceId of await deps.selection.terminatedBefore(before(at, deps.terminatedWorkspaceEraseDays))) {
      const failed = await erase({ kind: 'workspace', workspaceId }, 'termination');
      if (failed) terminated.failures.push({ rule: 'terminatedWorkspace', workspaceId, targetId: workspaceId, error: failed });
      else terminated.erased += 1;
    }

    const totals = { ...noRemovals(), terminatedWorkspace: terminated.erased, failures: terminated.failures.length };
    for (const w of workspaces) {
      for (const rule of Object.keys(w.removed) as SweepRule[]) totals[rule] += w.removed[rule];
      totals.failures += w.failures.length;
    }
    totals.loginLogDays += unownedLoginAttemptsPurged;
    return { startedAt: at.toISOString(), finishedAt: now().toISOString(), workspaces, unownedLoginAttemptsPurged, terminated, totals };
  }

  let running: Promise<SweepReport | undefined> | undefined;

  return {
    sweepAll,
    async sweepWorkspaceOf(principal) {
      await authorize(principal, 'retention.manage', { workspaceId: principal.workspaceId }, deps.audit);
      return sweepWorkspace(principal.workspaceId, now(), principal.userId);
    },
    sweepOnSchedule() {
      // In-process guard first (a slow sweep and the next tick), then the lock across replicas.
      if (running) return Promise.resolve(undefined);
      running = (async () => {
        try {
          const outcome = await deps.lock.runExclusive(sweepAll);
          return outcome.ran ? outcome.result : undefined;
        } finally {
          running = undefined;
        }
      })();
      return running;
    },
  };
}
