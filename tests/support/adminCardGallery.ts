/** Every kind of admin panel card, bound with realistic and hostile data, for validation and rendering tests. */
import { openingCard, panelCard, refusalCard, REFUSAL_REASONS, type AdminCard, type PanelView } from '../../bot/admin/render';
import type { SyncProgress } from '../../api/knowledge/sharepoint/ports';
import type { ErasureJobView } from '../../api/privacy/ports';
import { dataCard } from '../../bot/admin/dataSection';
import { DOWNLOAD_URL, exportView } from './myDataCardGallery';
import type { UsageReport } from '../../api/assistant/usage';

/** Text an attacker could put in a SharePoint drive name, a file name or an audit detail. */
export const HOSTILE_TEXTS = ['${$root.userId}', '{"$when":"${false}"}', '[click me](https://evil.example)', '**bold** _it_', '<script>alert(1)</script>', '${json($root)}', '${1+1}'];
export const HOSTILE = HOSTILE_TEXTS.join(' ');

const at = new Date('2026-11-20T09:30:00Z');
const progress = (status: SyncProgress['status'], failed = 0): SyncProgress => ({
  status,
  mode: 'full',
  startedAt: '2026-11-20T09:00:00.000Z',
  updatedAt: '2026-11-20T09:10:00.000Z',
  ...(status === 'completed' ? { finishedAt: '2026-11-20T09:12:00.000Z' } : {}),
  pages: 3,
  resyncs: 0,
  seen: 120,
  indexed: 100,
  unchanged: 15,
  removed: 2,
  skipped: [],
  failed: Array.from({ length: failed }, (_, i) => ({ sourceRef: `b!d/item${i}`, name: i === 0 ? HOSTILE : `report-${i}.pdf`, reason: 'The document could not be read.' })),
});

const base = (section: PanelView['section'], extra: Partial<PanelView> = {}): PanelView => ({ section, userId: '29:1a2b3c', role: 'admin', canManageKnowledge: true, ...extra });
const source = (i: number, extra: Record<string, unknown> = {}) => ({ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, workspaceId: 'w', driveId: `b!drive${i}`, displayName: `Source ${i}`, schedule: 'monthly' as const, ...extra });
const retention = { conversationDays: null, uploadedFileDays: 180, loginLogDays: 37, inactiveConversationDays: null, isDefault: true };

const figures = (calls: number, costCents: number, extra: Record<string, number> = {}) => ({ calls, failedCalls: 0, refusedCalls: 0, inputTokens: calls * 1200, outputTokens: calls * 300, averageLatencyMs: calls ? 900 : null, costCents, unpricedCalls: 0, ...extra });
/** A month with two models of one provider, one of another (a hostile model name, as a price list could hold), and an exhausted budget. */
export const usageReport: UsageReport = {
  month: '2026-11',
  currency: 'EUR',
  budget: { monthlyLimitCents: 5000, spentCents: 5012, exhausted: true },
  totals: figures(1730, 5012, { failedCalls: 3, refusedCalls: 2, unpricedCalls: 4 }),
  byModel: [
    { provider: 'openai', model: 'gpt-4o', ...figures(200, 3000) },
    { provider: 'anthropic', model: HOSTILE, ...figures(30, 1012, { unpricedCalls: 4, refusedCalls: 2 }) },
    { provider: 'openai', model: 'gpt-4o-mini', ...figures(1500, 1000, { failedCalls: 3 }) },
  ],
  byUserDay: [],
};

export function adminCardGallery(): Array<{ name: string; card: AdminCard }> {
  return [
    { name: 'opening', card: openingCard('29:1a2b3c') },
    { name: 'refusal', card: refusalCard(REFUSAL_REASONS.notAllowed) },
    { name: 'refusal-action', card: refusalCard(REFUSAL_REASONS.actionNotAllowed) },
    { name: 'home-admin', card: panelCard(base('home', { sources: [source(1)] })) },
    { name: 'home-manager', card: panelCard(base('home', { role: 'manager', sources: [] })) },
    { name: 'retention-defaults', card: panelCard(base('retention', { retention })) },
    {
      name: 'retention-saved',
      card: panelCard(base('retention', { retention: { conversationDays: 90, uploadedFileDays: 180, loginLogDays: 30, inactiveConversationDays: 60, isDefault: false, updatedAt: at.toISOString() }, status: { kind: 'good', text: 'Saved: conversations 90 days, uploaded files 180 days, login log 30 days, inactive clean-up after 60 days.' } })),
    },
    {
      name: 'retention-invalid',
      card: panelCard(
        base('retention', {
          retention,
          retentionInput: { conversationDays: '${1+1}', uploadedFileDays: '0', loginLogDays: 'forever', inactiveConversationDays: 'off' },
          problems: { uploadedFileDays: 'Enter a whole number of days from 1 to 3650.', loginLogDays: 'Enter a whole number of days from 1 to 3650.' },
          status: { kind: 'attention', text: 'Not saved: correct the fields marked below. Nothing was changed.' },
        }),
      ),
    },
    {
      name: 'knowledge',
      card: panelCard(
        base('knowledge', {
          sources: [
            source(1, { displayName: HOSTILE, lastSyncAt: at, progress: progress('completed', 4) }),
            source(2, { progress: progress('running'), schedule: 'daily' }),
            source(3, { progress: { ...progress('interrupted', 1), error: 'Microsoft 365 cannot be reached right now.' }, schedule: 'manual' }),
            source(4),
          ],
        }),
      ),
    },
    { name: 'knowledge-manager-empty', card: panelCard(base('knowledge', { role: 'manager', sources: [], sourceForm: { displayName: HOSTILE, driveId: '../../x' }, status: { kind: 'attention', text: 'Not added: The drive id is not a Microsoft Graph drive id.' } })) },
    { name: 'knowledge-many', card: panelCard(base('knowledge', { sources: Array.from({ length: 40 }, (_, i) => source(i)) })) },
    { name: 'confirm-remove', card: panelCard(base('confirmRemove', { confirm: { id: source(1).id, displayName: HOSTILE } })) },
    {
      name: 'audit',
      card: panelCard(
        base('audit', {
          audit: {
            area: 'retention',
            events: [
              { at, kind: 'retention.changed', outcome: 'success', actorUserId: 'u1', detail: { 'conversationDays.from': null, 'conversationDays.to': 90 } },
              { at, kind: 'authorization.refused', outcome: 'refused', detail: { action: 'retention.manage', crossWorkspace: false, note: HOSTILE } },
              { at, kind: 'knowledge.source_removed', outcome: 'success' },
            ],
          },
        }),
      ),
    },
    { name: 'audit-empty', card: panelCard(base('audit', { audit: { area: 'all', events: [] } })) },
    { name: 'usage', card: panelCard(base('usage', { usage: usageReport })) },
    { name: 'usage-empty', card: panelCard(base('usage', { usage: { ...usageReport, byModel: [], totals: figures(0, 0), budget: { monthlyLimitCents: null, spentCents: 0, exhausted: false } } })) },
    ...dataCards(),
  ];
}

const erasureJob = (status: ErasureJobView['status'], residue: string[] = []): ErasureJobView => ({
  jobId: '00000000-0000-4000-8000-000000000001',
  scope: { kind: 'workspace', workspaceId: 'w' },
  status,
  steps: [
    { name: 'rows', done: true, removed: 1200 },
    { name: 'index', done: status !== 'running', removed: status !== 'running' ? 5000 : undefined },
    { name: 'dataKey', done: status !== 'running' },
  ],
  ...(status === 'running' ? {} : { residue, finishedAt: at.toISOString() }),
  requestedAt: at.toISOString(),
});

/** The Data cards (bot/admin/dataSection.ts). */
function dataCards(): Array<{ name: string; card: AdminCard }> {
  return [
    { name: 'data', card: dataCard({ view: 'data', userId: '29:1a2b3c', canExport: true }) },
    { name: 'data-export-running', card: dataCard({ view: 'data', userId: '29:1a2b3c', canExport: true, exportView: { ...exportView('running'), scope: 'workspace' }, status: { kind: 'good', text: 'Export started. This card refreshes until the download is ready.' } }) },
    { name: 'data-export-done', card: dataCard({ view: 'data', userId: '29:1a2b3c', canExport: true, exportView: { ...exportView('done', true), scope: 'workspace' }, downloadUrl: DOWNLOAD_URL }) },
    { name: 'data-conversation-invalid', card: dataCard({ view: 'data', userId: '29:1a2b3c', conversationId: HOSTILE.slice(0, 36), status: { kind: 'attention', text: 'Not deleted: a conversation id looks like 8-4-4-4-12 hexadecimal digits.' } }) },
    { name: 'data-confirm', card: dataCard({ view: 'confirm', userId: '29:1a2b3c' }) },
    { name: 'data-confirm-mismatch', card: dataCard({ view: 'confirm', userId: '29:1a2b3c', status: { kind: 'attention', text: 'Not deleted: the name you typed is not the name of this workspace. Nothing was deleted.' } }) },
    { name: 'data-progress-running', card: dataCard({ view: 'progress', userId: '29:1a2b3c', job: erasureJob('running') }) },
    { name: 'data-progress-failed', card: dataCard({ view: 'progress', userId: '29:1a2b3c', job: erasureJob('failed', [`AuditEvent: 1`, HOSTILE]) }) },
  ];
}
