/**
 * From what the domain modules return to bound Adaptive Cards. Every value the templates see is
 * prepared here as a plain string (or a list of such records), so a template never meets an
 * object of unknown shape and every card has the same structure whatever the data holds.
 */
import { Template } from 'adaptivecards-templating';
import type { AuditEventRecord } from '../../api/audit/auditTrail';
import type { SyncProgress } from '../../api/knowledge/sharepoint/ports';
import type { KnowledgeSourceRecord } from '../../api/knowledge/sharepoint/sourceStore';
import type { RetentionField, RetentionPolicyView, RetentionProblems } from '../../api/privacy/retentionPolicy';
import { OPENING_TEMPLATE, PANEL_TEMPLATE, REFUSAL_TEMPLATE } from './templates';
import type { UsageReport } from '../../api/assistant/usage';
import { usageSectionData } from './usageSection';

export type AdminSection = 'home' | 'retention' | 'knowledge' | 'confirmRemove' | 'audit' | 'usage';

export interface AdminCard {
  type: 'AdaptiveCard';
  version: string;
  body: unknown[];
  refresh?: { action: { type: string; verb: string; data?: Record<string, unknown> }; userIds?: string[] };
  [key: string]: unknown;
}

/** Bind `data` to a template: a fresh expansion each time, so no card shares objects with another. */
export function bindCard(template: object, data: object): AdminCard {
  return new Template(structuredClone(template)).expand({ $root: data }) as AdminCard;
}

export const MAX_SOURCES_SHOWN = 15;
const MAX_ERRORS_SHOWN = 3;
const MAX_DETAIL_CHARS = 300;

export const utc = (d: Date | string | undefined): string => {
  if (!d) return 'never';
  const date = typeof d === 'string' ? new Date(d) : d;
  return Number.isNaN(date.getTime()) ? 'unknown' : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
};

export interface PanelView {
  section: AdminSection;
  /** The Teams user id (MRI) of the person the card is for: the only one its refresh is for. */
  userId: string;
  role: 'admin' | 'manager';
  status?: { text: string; kind: 'good' | 'attention' };
  retention?: RetentionPolicyView;
  /** What the admin typed, when it was refused: shown again so nothing they typed is lost. */
  retentionInput?: Partial<Record<RetentionField, string>>;
  problems?: RetentionProblems;
  sources?: Array<KnowledgeSourceRecord & { progress?: SyncProgress }>;
  canManageKnowledge: boolean;
  confirm?: { id: string; displayName: string };
  sourceForm?: { displayName: string; driveId: string };
  audit?: { area: string; events: AuditEventRecord[] };
  usage?: UsageReport;
}

const periodText = (days: number | null, none: string) => (days === null ? none : String(days));

function progressText(p: SyncProgress | undefined): string {
  if (!p) return 'not synced yet';
  const counts = `${p.indexed} indexed, ${p.unchanged} unchanged, ${p.removed} removed, ${p.failed.length} failed of ${p.seen} files`;
  if (p.status === 'running') return `running since ${utc(p.startedAt)}: ${counts}`;
  if (p.status === 'interrupted') return `interrupted ${utc(p.updatedAt)} (resumes at the next sync): ${counts}`;
  return `completed ${utc(p.finishedAt ?? p.updatedAt)}: ${counts}`;
}

function errorsText(p: SyncProgress | undefined): string {
  if (!p) return '';
  const lines: string[] = [];
  if (p.error) lines.push(`Sync stopped: ${p.error}`);
  if (p.failed.length) {
    const shown = p.failed.slice(0, MAX_ERRORS_SHOWN).map((f) => `${f.name ?? f.sourceRef}: ${f.reason}`);
    const more = p.failed.length > MAX_ERRORS_SHOWN ? ` (and ${p.failed.length - MAX_ERRORS_SHOWN} more)` : '';
    lines.push(`Errors: ${shown.join('; ')}${more}`);
  }
  return lines.join('\n');
}

function detailText(detail: Record<string, unknown> | undefined): string {
  if (!detail) return '';
  const parts = Object.entries(detail).map(([k, v]) => `${k}=${v === null ? 'none' : typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  const joined = parts.join(', ');
  return joined.length > MAX_DETAIL_CHARS ? `${joined.slice(0, MAX_DETAIL_CHARS - 1)}…` : joined;
}

export function panelCard(view: PanelView): AdminCard {
  const r = view.retention;
  const input = view.retentionInput ?? {};
  const problems = view.problems ?? {};
  const sources = view.sources ?? [];
  const data = {
    section: view.section,
    userId: view.userId,
    roleLine: view.role === 'admin' ? 'You manage this workspace as an administrator.' : 'You manage this workspace\'s knowledge as a manager.',
    canRetention: view.role === 'admin',
    canAudit: view.role === 'admin',
    canManageKnowledge: view.canManageKnowledge,
    status: view.status ? { text: view.status.text, style: view.status.kind } : { text: '', style: 'default' },
    sourceCount: sources.length,
    retention: {
      conversationDays: input.conversationDays ?? (r ? periodText(r.conversationDays, 'keep') : ''),
      uploadedFileDays: input.uploadedFileDays ?? (r ? String(r.uploadedFileDays) : ''),
      loginLogDays: input.loginLogDays ?? (r ? String(r.loginLogDays) : ''),
      inactiveConversationDays: input.inactiveConversationDays ?? (r ? periodText(r.inactiveConversationDays, 'off') : ''),
      updatedLine: !r ? '' : r.isDefault ? 'Kluis defaults: nobody has changed these yet.' : `Last changed ${utc(r.updatedAt)}.`,
    },
    problems: { conversationDays: problems.conversationDays ?? '', uploadedFileDays: problems.uploadedFileDays ?? '', loginLogDays: problems.loginLogDays ?? '', inactiveConversationDays: problems.inactiveConversationDays ?? '' },
    sources: sources.slice(0, MAX_SOURCES_SHOWN).map((s) => ({
      id: s.id,
      displayName: s.displayName,
      lastSync: utc(s.lastSyncAt),
      schedule: s.schedule === 'manual' ? 'only on request' : s.schedule,
      progress: progressText(s.progress),
      errors: errorsText(s.progress),
    })),
    sourcesMore: sources.length > MAX_SOURCES_SHOWN ? `Showing ${MAX_SOURCES_SHOWN} of ${sources.length} sources.` : '',
    form: view.sourceForm ?? { displayName: '', driveId: '' },
    confirm: view.confirm ?? { id: '', displayName: '' },
    auditArea: view.audit?.area ?? 'all',
    events: (view.audit?.events ?? []).map((e) => ({ at: utc(e.at), kind: e.kind, outcome: e.outcome, detail: detailText(e.detail) })),
    ...usageSectionData(view.usage),
  };
  return bindCard(PANEL_TEMPLATE, data);
}

export function openingCard(userId: string): AdminCard {
  return bindCard(OPENING_TEMPLATE, { userId });
}

export const REFUSAL_REASONS = {
  notAllowed: 'The admin panel is for administrators and managers of this workspace. Ask your administrator if you need a change.',
  actionNotAllowed: 'You may not do this. Nothing was changed.',
  unknownAction: 'This button is not known to Kluis. Nothing was changed.',
};

export function refusalCard(reason: string): AdminCard {
  return bindCard(REFUSAL_TEMPLATE, { reason });
}
