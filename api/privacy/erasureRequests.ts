/**
 * Erasure as the channels ask for it (HTTP, admin cards): who may erase what, the typed
 * confirmation of a workspace erasure, and whose job status a caller may see. The workspace is
 * always the caller's own; ids from a request are looked up inside it only.
 */
import type { AuditLog } from '../audit/ports';
import { fail } from '../errors';
import type { Principal } from '../tenancy/principal';
import { authorize } from '../tenancy/policy';
import type { Workspace } from '../tenancy/ports';
import type { ErasureRunner } from './erasureRunner';
import type { Eraser, ErasureJobView } from './ports';

export interface ErasureRequests {
  /**
   * Admins: everything of the workspace, after the exact workspace name was typed. The name is
   * read only after the caller is authorized, so a non-admin learns nothing from a malformed one.
   */
  eraseWorkspace(principal: Principal, typedName: () => string): Promise<ErasureJobView>;
  /** Admins: one conversation of the workspace. */
  eraseConversation(principal: Principal, conversationId: string): Promise<ErasureJobView>;
  /** Anyone signed in: their own personal data, and with deleteAccount their account too. */
  eraseMyData(principal: Principal, options: { deleteAccount: boolean }): Promise<ErasureJobView>;
  /** Admins: any erasure job of the workspace. */
  workspaceJob(principal: Principal, jobId: string): Promise<ErasureJobView>;
  /**
   * The caller's own user erasures only; with the job's status token (from the answer to their
   * request) also the one that deleted their previous account in this workspace.
   */
  myJob(principal: Principal, jobId: string, statusToken?: string): Promise<ErasureJobView>;
}

export function createErasureRequests(deps: {
  eraser: Eraser;
  runner: Pick<ErasureRunner, 'submit'>;
  directory: { findById(workspaceId: string): Promise<Workspace | undefined> };
  audit: AuditLog;
}): ErasureRequests {
  const own = (principal: Principal) => ({ workspaceId: principal.workspaceId });

  async function started(view: Promise<ErasureJobView>): Promise<ErasureJobView> {
    const job = await view;
    deps.runner.submit(job.jobId);
    return job;
  }

  return {
    async eraseWorkspace(principal, typedName) {
      await authorize(principal, 'workspace.erase', own(principal), deps.audit);
      const workspace = await deps.directory.findById(principal.workspaceId);
      if (!workspace) fail('not_found', 'Workspace vanished');
      // Exact, as typed: no trimming or case folding, so a slip never erases a workspace.
      if (typedName() !== workspace.name) {
        await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'erasure.refused', outcome: 'refused', detail: { scope: 'workspace', reason: 'confirmation_mismatch' } });
        fail('erasure_confirmation_mismatch', 'Typed workspace name does not match');
      }
      return started(deps.eraser.request({ kind: 'workspace', workspaceId: principal.workspaceId }, { userId: principal.userId, reason: 'admin' }));
    },

    async eraseConversation(principal, conversationId) {
      await authorize(principal, 'workspace.erase', own(principal), deps.audit);
      return started(deps.eraser.request({ kind: 'conversation', workspaceId: principal.workspaceId, conversationId }, { userId: principal.userId, reason: 'admin' }));
    },

    async eraseMyData(principal, options) {
      return started(deps.eraser.request({ kind: 'user', workspaceId: principal.workspaceId, userId: principal.userId, deleteAccount: options.deleteAccount }, { userId: principal.userId, reason: 'user' }));
    },

    async workspaceJob(principal, jobId) {
      await authorize(principal, 'workspace.erase', own(principal), deps.audit);
      return (await deps.eraser.status(principal.workspaceId, jobId)) ?? fail('not_found', 'No such erasure job in this workspace');
    },

    async myJob(principal, jobId, statusToken) {
      const job = await deps.eraser.status(principal.workspaceId, jobId);
      if (job && job.scope.kind === 'user' && job.scope.userId === principal.userId) return job;
      // The token is looked up in the caller's own workspace only: another tenant's token opens nothing.
      const byToken = statusToken ? await deps.eraser.statusWithToken(principal.workspaceId, jobId, statusToken) : undefined;
      // Someone else's job (without its token) answers exactly like a job that does not exist.
      if (!byToken || byToken.scope.kind !== 'user') fail('not_found', 'No such erasure job of this user');
      return byToken;
    },
  };
}
