/**
 * The Data cards of the admin panel (admins only): delete all workspace data, which asks for the
 * workspace's exact name on a second card and then shows a progress card that refreshes until the
 * erasure is done, and delete one conversation by its id. Each press is one call on the erasure
 * requests module, which authorizes it again; ids in the card data are only looked up inside the
 * caller's own workspace.
 */
import type { AuditLog } from '../../api/audit/ports';
import { isKluisError } from '../../api/errors';
import type { ErasureRequests } from '../../api/privacy/erasureRequests';
import type { ErasureJobView } from '../../api/privacy/ports';
import type { Exports, ExportView } from '../../api/privacy/export';
import type { Principal } from '../../api/tenancy/principal';
import { authorize } from '../../api/tenancy/policy';
import { bindCard, refusalCard, REFUSAL_REASONS, utc, type AdminCard } from './render';
import { VERBS } from './templates';

export const DATA_VERBS: ReadonlySet<string> = new Set([VERBS.openData, VERBS.askEraseWorkspace, VERBS.eraseWorkspace, VERBS.erasureProgress, VERBS.eraseConversation, VERBS.exportWorkspace, VERBS.exportProgress]);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STEP_NAMES: Record<string, string> = { rows: 'Database rows', index: 'Search index', blobs: 'Stored files', graphTokens: 'Microsoft 365 sign-in cache', usage: 'Usage figures', dataKey: 'Workspace key' };

const text = (value: string, extra: Record<string, unknown> = {}) => ({ type: 'TextRun', text: value, ...extra });
const execute = (title: string, verb: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'Action.Execute', title, verb, data, ...extra });
const STATUS = { type: 'Container', $when: "${status.text != ''}", style: '${status.style}', items: [{ type: 'RichTextBlock', inlines: [text('${status.text}', { weight: 'Bolder' })] }] };

const EXPORT_STATUS: Record<ExportView['status'], string> = { queued: 'waiting to start', running: 'being built', done: 'ready to download', failed: 'failed: start a new export' };

/** An export as a card shows it: status, progress and whether the card should keep refreshing. */
export const exportFacts = (e: ExportView | undefined) => ({
  exportId: e?.id ?? '',
  exportStatus: e ? EXPORT_STATUS[e.status] : '',
  exportProgress: e ? `${e.progress.phase}: ${e.progress.filesDone} of ${e.progress.filesTotal} files` : '',
  exportRunning: e?.status === 'queued' || e?.status === 'running',
});

/** An export view with the absolute download link of a finished export (the signed link the export module issued). */
export async function exportWithLink(deps: { exports: Pick<Exports, 'status'>; publicUrl: () => string }, principal: Principal, exportId: string, scope: 'user' | 'workspace'): Promise<{ exportView: ExportView; downloadUrl?: string }> {
  const exportView = await deps.exports.status(principal, exportId, scope);
  return { exportView, ...(exportView.download ? { downloadUrl: `${deps.publicUrl()}/api/export/download/${exportView.download.token}` } : {}) };
}

/** An erasure job's steps as a card lists them. */
export const erasureSteps = (job: ErasureJobView | undefined) => (job?.steps ?? []).map((s) => ({ name: STEP_NAMES[s.name] ?? s.name, state: s.done ? `done (${s.removed ?? 0} removed)` : 'waiting' }));

/** The Data card, the confirmation card and the progress card share this template. */
export const DATA_TEMPLATE = {
  type: 'AdaptiveCard',
  $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
  version: '1.5',
  refresh: { action: { type: 'Action.Execute', title: 'Refresh', verb: '${refreshVerb}', data: { jobId: '${jobId}', exportId: '${exportId}' } }, userIds: ['${userId}'] },
  body: [
    { type: 'TextBlock', text: 'Kluis administration: data', weight: 'Bolder', size: 'Large', wrap: true },
    { type: 'ActionSet', actions: [execute('Overview', VERBS.open, { section: 'home' }), execute('Data', VERBS.openData, {})] },
    STATUS,
    {
      type: 'Container',
      $when: "${view == 'data'}",
      items: [
        { type: 'TextBlock', text: 'Export workspace data', weight: 'Bolder', size: 'Medium', wrap: true, $when: '${canExport}' },
        { type: 'TextBlock', text: 'A zip file with every conversation, uploaded file, setting and audit event of this workspace. It can be downloaded for 7 days.', wrap: true, $when: '${canExport}' },
        { type: 'FactSet', $when: "${exportStatus != ''}", facts: [{ title: 'Export', value: '${exportStatus}' }, { title: 'Progress', value: '${exportProgress}' }] },
        {
          type: 'ActionSet',
          $when: '${canExport}',
          actions: [
            { type: 'Action.OpenUrl', title: 'Download workspace data', url: '${downloadUrl}', $when: "${downloadUrl != ''}", style: 'positive' },
            { ...execute('Refresh', VERBS.exportProgress, { exportId: '${exportId}' }), $when: '${exportRunning}' },
            { ...execute('Export workspace data', VERBS.exportWorkspace, {}), $when: '${!exportRunning}' },
          ],
        },
        { type: 'TextBlock', text: 'Delete workspace data', weight: 'Bolder', size: 'Medium', wrap: true, separator: true },
        { type: 'TextBlock', text: 'Deletes every conversation, document, uploaded file, setting, usage figure and audit event of this workspace from the database, the search index and the file store, and destroys the workspace key. Accounts stay so people can still sign in. This cannot be undone.', wrap: true },
        { type: 'ActionSet', actions: [execute('Delete workspace data…', VERBS.askEraseWorkspace, {}, { style: 'destructive' })] },
        { type: 'TextBlock', text: 'Delete one conversation', weight: 'Bolder', size: 'Medium', wrap: true, separator: true },
        { type: 'Input.Text', id: 'conversationId', label: 'Conversation id', placeholder: '00000000-0000-0000-0000-000000000000', maxLength: 36, value: '${conversationId}' },
        { type: 'ActionSet', actions: [execute('Delete conversation', VERBS.eraseConversation, {}, { style: 'destructive' })] },
      ],
    },
    {
      type: 'Container',
      $when: "${view == 'confirm'}",
      items: [
        { type: 'TextBlock', text: 'Type the name of this workspace to confirm', weight: 'Bolder', size: 'Medium', wrap: true },
        { type: 'TextBlock', text: 'Everything of the workspace is deleted for good. Type its name exactly as it is written.', wrap: true },
        { type: 'Input.Text', id: 'confirmName', label: 'Workspace name', maxLength: 200, isRequired: true, errorMessage: 'Required' },
        { type: 'ActionSet', actions: [execute('Delete all workspace data', VERBS.eraseWorkspace, {}, { style: 'destructive' }), execute('Cancel', VERBS.openData, {})] },
      ],
    },
    {
      type: 'Container',
      $when: "${view == 'progress'}",
      items: [
        { type: 'TextBlock', text: 'Erasure progress', weight: 'Bolder', size: 'Medium', wrap: true },
        { type: 'FactSet', facts: [{ title: 'Status', value: '${jobStatus}' }, { title: 'Requested', value: '${requestedAt}' }, { title: 'Finished', value: '${finishedAt}' }] },
        { type: 'FactSet', facts: [{ $data: '${steps}', title: '${name}', value: '${state}' }] },
        { type: 'RichTextBlock', $when: "${residue != ''}", inlines: [text('${residue}', { color: 'Attention', size: 'Small' })] },
        { type: 'ActionSet', actions: [execute('Refresh', VERBS.erasureProgress, { jobId: '${jobId}' })] },
      ],
    },
  ],
};

export interface DataView {
  view: 'data' | 'confirm' | 'progress';
  userId: string;
  status?: { text: string; kind: 'good' | 'attention' };
  job?: ErasureJobView;
  conversationId?: string;
  /** Whether the export button is offered (the export module is wired in). */
  canExport?: boolean;
  exportView?: ExportView;
  downloadUrl?: string;
}

export function dataCard(v: DataView): AdminCard {
  const job = v.job;
  const unfinished = job !== undefined && (job.status === 'queued' || job.status === 'running');
  const card = bindCard(DATA_TEMPLATE, {
    view: v.view,
    userId: v.userId,
    status: v.status ? { text: v.status.text, style: v.status.kind } : { text: '', style: 'default' },
    refreshVerb: unfinished ? VERBS.erasureProgress : v.exportView ? VERBS.exportProgress : VERBS.openData,
    canExport: v.canExport ?? false,
    ...exportFacts(v.exportView),
    downloadUrl: v.downloadUrl ?? '',
    jobId: job?.jobId ?? '',
    jobStatus: job?.status ?? '',
    requestedAt: utc(job?.requestedAt),
    finishedAt: job?.finishedAt ? utc(job.finishedAt) : 'not yet',
    steps: erasureSteps(job),
    residue: job?.residue?.length ? `Still found: ${job.residue.join('; ')}` : '',
    conversationId: v.conversationId ?? '',
  });
  // Only a running erasure or a followed export keeps refreshing (progress, or a fresh link).
  if (!unfinished && !v.exportView) delete card.refresh;
  return card;
}

const asString = (v: unknown, max: number): string => (typeof v === 'string' ? v.slice(0, max) : '');

/** One press on a Data card, for a caller already allowed to open the panel. */
export async function answerDataAction(deps: { erasure: ErasureRequests; audit: AuditLog; exports?: Pick<Exports, 'request' | 'status'>; publicUrl?: () => string }, principal: Principal, userId: string, verb: string, data: Record<string, unknown>): Promise<AdminCard> {
  const view: DataView = { view: 'data', userId, canExport: !!deps.exports };
  const exporting = deps.exports && deps.publicUrl ? { exports: deps.exports, publicUrl: deps.publicUrl } : undefined;
  try {
    switch (verb) {
      case VERBS.openData:
        // Admins only: the same check as every erasure, before anything is shown.
        await authorize(principal, 'workspace.erase', { workspaceId: principal.workspaceId }, deps.audit);
        return dataCard(view);
      case VERBS.askEraseWorkspace:
        await authorize(principal, 'workspace.erase', { workspaceId: principal.workspaceId }, deps.audit);
        return dataCard({ ...view, view: 'confirm' });
      case VERBS.eraseWorkspace: {
        const job = await deps.erasure.eraseWorkspace(principal, () => asString(data.confirmName, 300));
        return dataCard({ ...view, view: 'progress', job, status: { kind: 'good', text: 'Erasure started. This card refreshes until it is done.' } });
      }
      case VERBS.erasureProgress: {
        const jobId = asString(data.jobId, 64);
        if (!UUID.test(jobId)) return dataCard({ ...view, status: { kind: 'attention', text: 'That erasure does not exist in this workspace.' } });
        const job = await deps.erasure.workspaceJob(principal, jobId);
        const done = job.status === 'done' ? { kind: 'good' as const, text: 'The erasure is done: nothing of it was found in any store.' } : job.status === 'failed' ? { kind: 'attention' as const, text: 'The erasure did not finish: see what was still found below.' } : undefined;
        return dataCard({ ...view, view: 'progress', job, status: done });
      }
      case VERBS.eraseConversation: {
        const conversationId = asString(data.conversationId, 64).trim().toLowerCase();
        if (!UUID.test(conversationId)) return dataCard({ ...view, conversationId: asString(data.conversationId, 36), status: { kind: 'attention', text: 'Not deleted: a conversation id looks like 8-4-4-4-12 hexadecimal digits.' } });
        const job = await deps.erasure.eraseConversation(principal, conversationId);
        return dataCard({ ...view, view: 'progress', job, status: { kind: 'good', text: 'Deleting the conversation.' } });
      }
      case VERBS.exportWorkspace: {
        if (!exporting) return refusalCard(REFUSAL_REASONS.unknownAction);
        const started = await exporting.exports.request(principal, 'workspace');
        return dataCard({ ...view, ...(await exportWithLink(exporting, principal, started.id, 'workspace')), status: { kind: 'good', text: 'Export started. This card refreshes until the download is ready.' } });
      }
      case VERBS.exportProgress: {
        if (!exporting) return refusalCard(REFUSAL_REASONS.unknownAction);
        const exportId = asString(data.exportId, 64);
        if (!UUID.test(exportId)) return dataCard({ ...view, status: { kind: 'attention', text: 'That export does not exist in this workspace.' } });
        await authorize(principal, 'workspace.erase', { workspaceId: principal.workspaceId }, deps.audit);
        return dataCard({ ...view, ...(await exportWithLink(exporting, principal, exportId, 'workspace')) });
      }
      default:
        return refusalCard(REFUSAL_REASONS.unknownAction);
    }
  } catch (error) {
    if (isKluisError(error, 'forbidden')) return refusalCard(REFUSAL_REASONS.actionNotAllowed);
    if (isKluisError(error, 'erasure_confirmation_mismatch')) return dataCard({ ...view, view: 'confirm', status: { kind: 'attention', text: 'Not deleted: the name you typed is not the name of this workspace. Nothing was deleted.' } });
    if (isKluisError(error, 'not_found')) return dataCard({ ...view, status: { kind: 'attention', text: 'That conversation or erasure does not exist in this workspace. Nothing was deleted.' } });
    throw error;
  }
}
