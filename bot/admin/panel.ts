/**
 * The admin panel in Teams: the `admin` (or `beheer`) command and every Action.Execute of its
 * cards. A channel only: each button becomes one call on a domain module (retention policy,
 * knowledge sources, audit trail), and the result becomes the refreshed card.
 *
 * Security rests on the server, not on what the card shows. Every invoke re-resolves the caller
 * from the activity (tenant + Entra object id) and is authorized by the domain policy before
 * anything is read; ids in the card's data are looked up within the caller's own workspace only,
 * so a forged Action.Execute from a non-admin, or one naming another workspace's source, gets a
 * refusal (audited as `authorization.refused` by the policy) and no data.
 *
 * Invoke responses are sent here rather than by teams-ai: for a card with `refresh` teams-ai
 * would also update the shared message for everyone in the conversation ("replace for all"),
 * which would put one admin's view — with workspace data — in front of every member of a group
 * chat. Universal Actions keep per-user views in the invoke response instead; the message that
 * stays in the conversation is the opening card, which holds no data.
 */
import { ActivityTypes, CardFactory, type TurnContext } from 'botbuilder';
import type { Application, TurnState } from '@microsoft/teams-ai';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AUDIT_AREAS, isAuditArea, type AuditTrail } from '../../api/audit/auditTrail';
import type { AuditLog } from '../../api/audit/ports';
import { utcMonth, type UsageMeter } from '../../api/assistant/usage';
import { fail, isKluisError } from '../../api/errors';
import type { KnowledgeSources } from '../../api/knowledge/sharepoint/sources';
import { RETENTION_FIELDS, type RetentionField, type RetentionPolicies } from '../../api/privacy/retentionPolicy';
import { authorize, can } from '../../api/tenancy/policy';
import { BOT_COMMANDS } from '../cards';
import type { AuthMethod, Principal } from '../../api/tenancy/principal';
import type { Principals } from '../../api/tenancy/principals';
import { openingCard, panelCard, refusalCard, REFUSAL_REASONS, type AdminCard, type AdminSection, type PanelView } from './render';
import { ADMIN_VERB, VERBS } from './templates';
import { answerDataAction, DATA_VERBS } from './dataSection';
import { callerOf as resolveCaller } from '../caller';
import type { ErasureRequests } from '../../api/privacy/erasureRequests';
import type { Exports } from '../../api/privacy/export';

export interface AdminPanelDeps {
  principals: Principals;
  authMethod: AuthMethod;
  retention: RetentionPolicies;
  sources: KnowledgeSources;
  auditTrail: AuditTrail;
  /** This month's usage per provider (bot/admin/usageSection.ts); without it the section stays empty. */
  usage?: Pick<UsageMeter, 'report'>;
  /** The audit log the panel's own authorization refusals go to. */
  audit: AuditLog;
  /** The Data cards (erasure); without it their buttons are refused as unknown. */
  erasure?: ErasureRequests;
  /** The Data card's workspace export, and the public URL its download link is made absolute with. */
  exports?: Pick<Exports, 'request' | 'status'>;
  publicUrl?: () => string;
  logger: Logger;
}

export const ADMIN_COMMAND = BOT_COMMANDS.admin;

const AUDIT_EVENTS_SHOWN = 15;
const OPENABLE: readonly AdminSection[] = ['home', 'retention', 'knowledge', 'audit', 'usage'];
// Graph drive ids: base64url-ish tokens with '!'; never paths (the same rule as the HTTP API).
const addSourceInput = z.object({
  displayName: z.string().trim().min(1, 'Enter a name.').max(512, 'The name is too long (at most 512 characters).'),
  driveId: z.string().trim().regex(/^[A-Za-z0-9!_-]{1,255}$/, 'The drive id is not a Microsoft Graph drive id.'),
  schedule: z.enum(['monthly', 'weekly', 'daily', 'manual'], { message: 'Choose a schedule.' }),
});
const SOURCE_ID = /^[0-9a-f-]{36}$/;

const asString = (v: unknown, max: number): string => (typeof v === 'string' ? v.slice(0, max) : '');

export function registerAdminPanel(app: Application<TurnState>, deps: AdminPanelDeps): void {
  const callerOf = (context: TurnContext) => resolveCaller(deps, context);

  /** The panel's base view for a caller who may open it. */
  function baseView(context: TurnContext, principal: Principal, section: AdminSection): PanelView {
    return {
      section,
      userId: context.activity.from.id,
      role: can(principal, 'retention.manage', { workspaceId: principal.workspaceId }) ? 'admin' : 'manager',
      canManageKnowledge: can(principal, 'knowledge.manage', { workspaceId: principal.workspaceId }),
    };
  }

  /** Fills in what the section shows; each read is authorized again by its domain module. */
  async function withSection(principal: Principal, view: PanelView): Promise<PanelView> {
    if (view.section === 'retention' && !view.retention) view.retention = await deps.retention.view(principal);
    if ((view.section === 'knowledge' || view.section === 'home') && !view.sources) view.sources = await deps.sources.list(principal);
    if (view.section === 'usage' && !view.usage && deps.usage) view.usage = await deps.usage.report(principal, utcMonth(new Date()));
    if (view.section === 'audit' && !view.audit) view.audit = { area: 'all', events: await deps.auditTrail.recent(principal, { limit: AUDIT_EVENTS_SHOWN }) };
    return view;
  }

  async function sourceName(principal: Principal, sourceId: string): Promise<string> {
    const source = (await deps.sources.list(principal)).find((s) => s.id === sourceId);
    if (!source) fail('not_found', 'No such knowledge source in this workspace');
    return source.displayName;
  }

  const sourceIdOf = (data: Record<string, unknown>): string => {
    const id = asString(data.sourceId, 64);
    if (!SOURCE_ID.test(id)) fail('not_found', 'Malformed source id in card data');
    return id;
  };

  /** One button press: the verb's change (if any) and the view to show after it. */
  async function act(verb: string, principal: Principal, view: PanelView, data: Record<string, unknown>): Promise<PanelView> {
    switch (verb) {
      case VERBS.open: {
        const section = asString(data.section, 32) as AdminSection;
        view.section = OPENABLE.includes(section) ? section : 'home';
        return view;
      }
      case VERBS.saveRetention: {
        view.section = 'retention';
        const input: Record<string, unknown> = {};
        for (const f of RETENTION_FIELDS) if (data[f] !== undefined) input[f] = data[f];
        const result = await deps.retention.update(principal, input);
        if (!result.saved) {
          view.problems = result.problems;
          view.retentionInput = Object.fromEntries(RETENTION_FIELDS.map((f) => [f, typeof data[f] === 'string' || typeof data[f] === 'number' ? String(data[f]).slice(0, 10) : ''])) as Record<RetentionField, string>;
          view.status = { kind: 'attention', text: 'Not saved: correct the fields marked below. Nothing was changed.' };
          view.retention = await deps.retention.view(principal);
          return view;
        }
        view.retention = result.policy;
        const p = result.policy;
        const summary = `conversations ${p.conversationDays ?? 'kept'}${p.conversationDays ? ' days' : ''}, uploaded files ${p.uploadedFileDays} days, login log ${p.loginLogDays} days, inactive clean-up ${p.inactiveConversationDays ? `after ${p.inactiveConversationDays} days` : 'off'}`;
        view.status = { kind: 'good', text: result.changed.length ? `Saved: ${summary}.` : `Nothing changed: ${summary}.` };
        return view;
      }
      case VERBS.syncSource: {
        view.section = 'knowledge';
        const id = sourceIdOf(data);
        await deps.sources.syncNow(principal, id);
        view.status = { kind: 'good', text: `Sync started for ${await sourceName(principal, id)}. Open Knowledge again to see its progress.` };
        return view;
      }
      case VERBS.askRemoveSource: {
        const id = sourceIdOf(data);
        await authorize(principal, 'knowledge.manage', { workspaceId: principal.workspaceId }, deps.audit);
        view.section = 'confirmRemove';
        view.confirm = { id, displayName: await sourceName(principal, id) };
        return view;
      }
      case VERBS.removeSource: {
        view.section = 'knowledge';
        const id = sourceIdOf(data);
        if (data.confirm !== 'yes') {
          view.status = { kind: 'attention', text: 'Not removed: the removal was not confirmed.' };
          return view;
        }
        const name = await sourceName(principal, id);
        await deps.sources.remove(principal, id);
        view.status = { kind: 'good', text: `Removed ${name} and everything Kluis indexed from it.` };
        return view;
      }
      case VERBS.addSource: {
        view.section = 'knowledge';
        await authorize(principal, 'knowledge.manage', { workspaceId: principal.workspaceId }, deps.audit);
        const parsed = addSourceInput.safeParse({ displayName: asString(data.displayName, 600), driveId: asString(data.driveId, 300), schedule: data.schedule ?? 'monthly' });
        if (!parsed.success) {
          view.sourceForm = { displayName: asString(data.displayName, 512), driveId: asString(data.driveId, 255) };
          view.status = { kind: 'attention', text: `Not added: ${parsed.error.issues[0]!.message}` };
          return view;
        }
        try {
          const added = await deps.sources.add(principal, parsed.data);
          view.status = { kind: 'good', text: `Added ${added.displayName}; it syncs at the next scheduler run.` };
        } catch (error) {
          if (!isKluisError(error, 'source_exists')) throw error;
          view.sourceForm = parsed.data;
          view.status = { kind: 'attention', text: 'Not added: this drive is already a knowledge source of this workspace.' };
        }
        return view;
      }
      case VERBS.filterAudit: {
        view.section = 'audit';
        const area = data.area === undefined || data.area === 'all' ? undefined : data.area;
        if (area !== undefined && !isAuditArea(area)) {
          view.status = { kind: 'attention', text: `Unknown kind of event; choose one of: all, ${AUDIT_AREAS.join(', ')}.` };
          view.audit = { area: 'all', events: await deps.auditTrail.recent(principal, { limit: AUDIT_EVENTS_SHOWN }) };
          return view;
        }
        view.audit = { area: area ?? 'all', events: await deps.auditTrail.recent(principal, { area, limit: AUDIT_EVENTS_SHOWN }) };
        return view;
      }
      default:
        return fail('forbidden', `Unknown admin verb ${verb.slice(0, 64)}`);
    }
  }

  /** The card a press answers with: the panel, a refusal, or the panel with a problem line. */
  async function answer(context: TurnContext, verb: string, data: Record<string, unknown>): Promise<AdminCard> {
    const principal = await callerOf(context);
    if (!principal) return refusalCard(REFUSAL_REASONS.notAllowed);
    try {
      await authorize(principal, 'admin.panel', { workspaceId: principal.workspaceId }, deps.audit);
    } catch (error) {
      if (isKluisError(error)) return refusalCard(REFUSAL_REASONS.notAllowed);
      throw error;
    }
    if (!(Object.values(VERBS) as string[]).includes(verb)) return refusalCard(REFUSAL_REASONS.unknownAction);
    if (DATA_VERBS.has(verb)) return deps.erasure ? answerDataAction({ erasure: deps.erasure, audit: deps.audit, exports: deps.exports, publicUrl: deps.publicUrl }, principal, context.activity.from.id, verb, data) : refusalCard(REFUSAL_REASONS.unknownAction);
    const view = baseView(context, principal, 'home');
    try {
      return panelCard(await withSection(principal, await act(verb, principal, view, data)));
    } catch (error) {
      if (isKluisError(error, 'forbidden')) return refusalCard(REFUSAL_REASONS.actionNotAllowed);
      if (!isKluisError(error)) throw error;
      deps.logger.warn({ errorId: error.id, detail: error.message, verb, workspaceId: principal.workspaceId }, 'admin panel action failed');
      const problem = error.id === 'not_found' ? 'That knowledge source does not exist (any more) in this workspace. Nothing was changed.' : `Could not do this: ${error.publicMessage}`;
      const fallback = baseView(context, principal, view.section === 'confirmRemove' ? 'knowledge' : view.section);
      fallback.status = { kind: 'attention', text: problem };
      // The section is read again; a refusal there (a manager on retention) is a refusal card.
      try {
        return panelCard(await withSection(principal, fallback));
      } catch (again) {
        if (isKluisError(again, 'forbidden')) return refusalCard(REFUSAL_REASONS.actionNotAllowed);
        throw again;
      }
    }
  }

  app.message(BOT_COMMANDS.admin, async (context) => {
    const principal = await callerOf(context);
    if (principal) {
      try {
        await authorize(principal, 'admin.panel', { workspaceId: principal.workspaceId }, deps.audit);
        await context.sendActivity({ attachments: [CardFactory.adaptiveCard(openingCard(context.activity.from.id))], summary: 'Kluis administration' });
        return;
      } catch (error) {
        if (!isKluisError(error)) throw error;
      }
    }
    await context.sendActivity({ attachments: [CardFactory.adaptiveCard(refusalCard(REFUSAL_REASONS.notAllowed))], summary: 'Not available' });
  });

  app.adaptiveCards.actionExecute<Record<string, unknown>>(ADMIN_VERB, async (context, _state, data) => {
    const verb = String((context.activity.value as { action?: { verb?: unknown } } | undefined)?.action?.verb ?? '');
    const card = await answer(context, verb, data && typeof data === 'object' && !Array.isArray(data) ? data : {});
    await context.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status: 200, body: { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: card } } });
    return card;
  });
}
