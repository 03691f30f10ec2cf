/**
 * Per-workspace assistant settings: the administrator's instructions (appended to Kluis's fixed
 * rules in the system prompt) and the data-minimisation limits of what the prompt builder sends.
 * Only admins change them; the instructions are write-only through this module: reading returns
 * whether they are set and how long they are, never the text, so neither users nor the API can
 * echo the system prompt.
 */
import { createHash } from 'node:crypto';
import type { AuditLog } from '../audit/ports';
import { fail } from '../errors';
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';
import { DEFAULT_PROMPT_LIMITS, MAX_INSTRUCTIONS_CHARS, PROMPT_LIMIT_BOUNDS, type PromptLimits } from './prompt';

export interface StoredAssistantSettings extends PromptLimits {
  instructions?: string;
  updatedAt?: Date;
  updatedByUserId?: string;
}

export interface AssistantSettingsStore {
  find(workspaceId: string): Promise<StoredAssistantSettings | undefined>;
  save(workspaceId: string, settings: StoredAssistantSettings & { updatedByUserId: string }): Promise<void>;
}

/** What the API shows an admin: limits, and only the fact and size of the instructions. */
export interface AssistantSettingsView extends PromptLimits {
  instructions: { set: boolean; chars: number };
  updatedAt?: string;
}

export interface AssistantSettingsUpdate extends Partial<PromptLimits> {
  /** A string replaces the instructions; null removes them; undefined keeps them. */
  instructions?: string | null;
}

export interface AssistantSettings {
  /** For the answer pipeline only (server side): the effective settings of a workspace. */
  effective(workspaceId: string): Promise<{ instructions?: string; limits: PromptLimits }>;
  view(principal: Principal): Promise<AssistantSettingsView>;
  update(principal: Principal, change: AssistantSettingsUpdate): Promise<AssistantSettingsView>;
}

export function createAssistantSettings(deps: { store: AssistantSettingsStore; audit: AuditLog }): AssistantSettings {
  const current = async (workspaceId: string): Promise<StoredAssistantSettings> => (await deps.store.find(workspaceId)) ?? { ...DEFAULT_PROMPT_LIMITS };
  const limitsOf = (s: StoredAssistantSettings): PromptLimits => ({ maxTurns: s.maxTurns, maxTurnChars: s.maxTurnChars, maxPassages: s.maxPassages, maxPassageChars: s.maxPassageChars });
  const viewOf = (s: StoredAssistantSettings): AssistantSettingsView => ({
    ...limitsOf(s),
    instructions: { set: !!s.instructions, chars: s.instructions?.length ?? 0 },
    updatedAt: s.updatedAt?.toISOString(),
  });

  return {
    async effective(workspaceId) {
      const s = await current(workspaceId);
      return { instructions: s.instructions || undefined, limits: limitsOf(s) };
    },
    async view(principal) {
      await authorize(principal, 'workspace.configure', { workspaceId: principal.workspaceId }, deps.audit);
      return viewOf(await current(principal.workspaceId));
    },
    async update(principal, change) {
      await authorize(principal, 'workspace.configure', { workspaceId: principal.workspaceId }, deps.audit);
      const before = await current(principal.workspaceId);
      const next: StoredAssistantSettings = { ...before };
      for (const key of Object.keys(PROMPT_LIMIT_BOUNDS) as Array<keyof PromptLimits>) {
        const value = change[key];
        if (value === undefined) continue;
        const { min, max } = PROMPT_LIMIT_BOUNDS[key];
        if (!Number.isInteger(value) || value < min || value > max) fail('request_malformed', `Field ${key}: expected a whole number from ${min} to ${max}`);
        next[key] = value;
      }
      if (change.instructions === null) next.instructions = undefined;
      else if (change.instructions !== undefined) {
        const text = change.instructions.replace(/\r\n?/g, '\n').trim();
        if (text.length > MAX_INSTRUCTIONS_CHARS) fail('request_malformed', `Field instructions: at most ${MAX_INSTRUCTIONS_CHARS} characters`);
        // Control characters other than newline and tab have no place in a prompt.
        if (/[\u0000-\u0008\u000B-\u001F\u007F\u202A-\u202E\u2066-\u2069]/.test(text)) fail('request_malformed', 'Field instructions: control or bidirectional-override characters are not allowed');
        next.instructions = text || undefined;
      }
      await deps.store.save(principal.workspaceId, { ...next, updatedByUserId: principal.userId });
      const changed = Object.keys(change).filter((k) => change[k as keyof AssistantSettingsUpdate] !== undefined);
      // The audit shows that the instructions changed (and a fingerprint to tell versions apart), never the text.
      await deps.audit.record({
        workspaceId: principal.workspaceId,
        actorUserId: principal.userId,
        kind: 'assistant.settings_changed',
        outcome: 'success',
        detail: { fields: changed.join(',').slice(0, 200), instructionsFingerprint: next.instructions ? createHash('sha256').update(next.instructions).digest('hex').slice(0, 12) : null },
      });
      return viewOf({ ...next, updatedAt: new Date() });
    },
  };
}
