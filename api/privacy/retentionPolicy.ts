/**
 * Per-workspace retention policy: how long conversations, uploaded files and the login log are
 * kept, and whether conversations nobody has touched for a while are cleaned up. The sweeper
 * reads `effective(workspaceId)`; admins read and change the policy through `view` and `update`.
 *
 * The data-protection statement promises storage limitation with concrete periods, so a value
 * outside sensible bounds is refused rather than clamped, nothing is saved when any field is
 * wrong, and every change is audited with the old and new numbers (never any content).
 */
import type { AuditLog } from '../audit/ports';
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';
import type { RetentionPeriods, RetentionPolicyStore, StoredRetentionPolicy } from './ports';

export type { RetentionPeriods } from './ports';
export type RetentionField = keyof RetentionPeriods;

/** Conversations are kept until deleted and nothing is cleaned up for inactivity unless an admin says so. */
export const RETENTION_DEFAULTS: Readonly<RetentionPeriods> = Object.freeze({ conversationDays: null, uploadedFileDays: 180, loginLogDays: 37, inactiveConversationDays: null });

/** Every period is a whole number of days from 1 to 3650 (ten years). */
export const RETENTION_BOUNDS = Object.freeze({ min: 1, max: 3650 });

export const RETENTION_FIELDS: readonly RetentionField[] = ['conversationDays', 'uploadedFileDays', 'loginLogDays', 'inactiveConversationDays'];

/** The words that mean "no period" for the two fields that may have none (English and Dutch). */
const NO_PERIOD: Partial<Record<RetentionField, { words: readonly string[]; hint: string }>> = {
  conversationDays: { words: ['keep', 'bewaren'], hint: '"keep"' },
  inactiveConversationDays: { words: ['off', 'uit'], hint: '"off"' },
};

export interface RetentionPolicyView extends RetentionPeriods {
  /** Whether the workspace still runs on Kluis's defaults (no admin has saved a policy). */
  isDefault: boolean;
  updatedAt?: string;
}

export type RetentionProblems = Partial<Record<RetentionField, string>>;

export type RetentionUpdateResult =
  | { saved: true; policy: RetentionPolicyView; changed: RetentionField[] }
  | { saved: false; problems: RetentionProblems };

export interface RetentionPolicies {
  /** For the sweeper (server side, no principal): the periods that apply to a workspace now. */
  effective(workspaceId: string): Promise<RetentionPeriods>;
  view(principal: Principal): Promise<RetentionPolicyView>;
  /**
   * Change some periods. `input` holds numbers, or the strings a form sends ("90", "keep");
   * fields it leaves out keep their value. Any problem saves nothing and names the field.
   */
  update(principal: Principal, input: Record<string, unknown>): Promise<RetentionUpdateResult>;
}

/** Reads one field of a form or request; `undefined` means "leave as is". */
function readPeriod(field: RetentionField, raw: unknown): { value?: number | null; problem?: string } {
  if (raw === undefined) return {};
  const none = NO_PERIOD[field];
  const { min, max } = RETENTION_BOUNDS;
  const expected = `a whole number of days from ${min} to ${max}${none ? `, or ${none.hint}` : ''}`;
  if (raw === null) return none ? { value: null } : { problem: `Enter ${expected}.` };
  let days: number;
  if (typeof raw === 'number') days = raw;
  else if (typeof raw === 'string') {
    const text = raw.trim().toLowerCase();
    if (none?.words.includes(text)) return { value: null };
    // Digits only: "1e3", "0x10", "90.5" and " 9 0" are not a number of days.
    if (!/^\d{1,6}$/.test(text)) return { problem: `Enter ${expected}.` };
    days = Number(text);
  } else return { problem: `Enter ${expected}.` };
  if (!Number.isInteger(days) || days < min || days > max) return { problem: `Enter ${expected}.` };
  return { value: days };
}

/** Validates a change without saving it: the parsed fields and a message per wrong field. */
export function readRetentionChange(input: Record<string, unknown>): { change: Partial<RetentionPeriods>; problems: RetentionProblems } {
  const change: Partial<RetentionPeriods> = {};
  const problems: RetentionProblems = {};
  for (const field of RETENTION_FIELDS) {
    const { value, problem } = readPeriod(field, input[field]);
    if (problem) problems[field] = problem;
    else if (value !== undefined) (change as Record<RetentionField, number | null>)[field] = value;
  }
  return { change, problems };
}

export function createRetentionPolicies(deps: { store: RetentionPolicyStore; audit: AuditLog }): RetentionPolicies {
  const stored = (workspaceId: string): Promise<StoredRetentionPolicy | undefined> => deps.store.find(workspaceId);
  const periodsOf = (s: StoredRetentionPolicy | undefined): RetentionPeriods =>
    s ? { conversationDays: s.conversationDays, uploadedFileDays: s.uploadedFileDays, loginLogDays: s.loginLogDays, inactiveConversationDays: s.inactiveConversationDays } : { ...RETENTION_DEFAULTS };
  const viewOf = (s: StoredRetentionPolicy | undefined): RetentionPolicyView => ({ ...periodsOf(s), isDefault: !s, ...(s?.updatedAt ? { updatedAt: s.updatedAt.toISOString() } : {}) });

  return {
    async effective(workspaceId) {
      return periodsOf(await stored(workspaceId));
    },
    async view(principal) {
      await authorize(principal, 'retention.read', { workspaceId: principal.workspaceId }, deps.audit);
      return viewOf(await stored(principal.workspaceId));
    },
    async update(principal, input) {
      // Authorization first: a caller who may not change the policy learns nothing from validation.
      await authorize(principal, 'retention.manage', { workspaceId: principal.workspaceId }, deps.audit);
      const { change, problems } = readRetentionChange(input);
      if (Object.keys(problems).length) return { saved: false, problems };
      const current = await stored(principal.workspaceId);
      const before = periodsOf(current);
      const next: RetentionPeriods = { ...before, ...change };
      const changed = RETENTION_FIELDS.filter((f) => next[f] !== before[f]);
      if (!changed.length) return { saved: true, policy: viewOf(current), changed };
      await deps.store.save(principal.workspaceId, { ...next, updatedByUserId: principal.userId });
      const detail: Record<string, number | null> = {};
      for (const f of changed) {
        detail[`${f}.from`] = before[f];
        detail[`${f}.to`] = next[f];
      }
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'retention.changed', outcome: 'success', detail });
      return { saved: true, policy: viewOf({ ...next, updatedAt: new Date(), updatedByUserId: principal.userId }), changed };
    },
  };
}
