/**
 * The "my data" card (`mydata`, `my data`, `mijn gegevens`): every member exports their own data
 * and deletes it (optionally with their account). A channel only: each press is one call on the
 * export module or the erasure requests module, which act on the caller's own data alone.
 *
 * The caller is resolved from the activity on every press, never from card data; the card's
 * buttons carry the userId the card was made for, and a press whose userId is not the presser's
 * own (a card forwarded to, or forged by, someone else) is refused before anything is read.
 * Export and erasure job ids from the card are looked up in the caller's own workspace and for
 * the caller only: another user's id answers like one that does not exist. The one exception is
 * the deletion this card started: its status token, carried in the card, still reads that job
 * after the deletion took the presser's account (their next contact makes a fresh one).
 *
 * Invoke responses go out here (as in the admin panel) so each person's view stays theirs.
 */
import { ActivityTypes, CardFactory, type TurnContext } from 'botbuilder';
import type { Application, TurnState } from '@microsoft/teams-ai';
import type { Logger } from 'pino';
import { isKluisError } from '../api/errors';
import type { ErasureRequests } from '../api/privacy/erasureRequests';
import type { Exports, ExportView } from '../api/privacy/export';
import type { ErasureJobView } from '../api/privacy/ports';
import type { AuthMethod, Principal } from '../api/tenancy/principal';
import type { Principals } from '../api/tenancy/principals';
import { bindCard, utc, type AdminCard } from './admin/render';
import { erasureSteps, exportFacts, exportWithLink } from './admin/dataSection';
import { callerOf } from './caller';
import { MY_DATA_OPENING_TEMPLATE, MY_DATA_REFUSAL_TEMPLATE, MY_DATA_TEMPLATE, MY_DATA_VERB, MY_DATA_VERBS } from './myDataTemplates';

export interface MyDataDeps {
  principals: Principals;
  authMethod: AuthMethod;
  exports: Pick<Exports, 'request' | 'status'>;
  erasure: Pick<ErasureRequests, 'eraseMyData' | 'myJob'>;
  /** The public base URL download links are made absolute with. */
  publicUrl: () => string;
  logger: Logger;
}

export interface MyDataView {
  view: 'home' | 'confirm' | 'deleting';
  userId: string;
  status?: { text: string; kind: 'good' | 'attention' };
  exportView?: ExportView;
  /** The absolute download link of a finished export. */
  downloadUrl?: string;
  job?: ErasureJobView;
  /** The erasure job's status token, carried in the card so its refresh outlives a deleted account. */
  statusToken?: string;
}

export const MY_DATA_REFUSALS = {
  notYours: 'This card was made for someone else. Ask for your own with the command "my data". Nothing was changed.',
  unknown: 'Kluis cannot tell who you are in this workspace. Nothing was changed.',
  unknownAction: 'This button is not known to Kluis. Nothing was changed.',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const running = (status: string | undefined) => status === 'queued' || status === 'running';

export function myDataOpeningCard(userId: string): AdminCard {
  return bindCard(MY_DATA_OPENING_TEMPLATE, { userId });
}

export function myDataRefusalCard(reason: string): AdminCard {
  return bindCard(MY_DATA_REFUSAL_TEMPLATE, { reason });
}

export function myDataCard(v: MyDataView): AdminCard {
  const e = v.exportView;
  const job = v.job;
  const card = bindCard(MY_DATA_TEMPLATE, {
    view: v.view,
    userId: v.userId,
    status: v.status ? { text: v.status.text, style: v.status.kind } : { text: '', style: 'default' },
    ...exportFacts(e),
    downloadUrl: v.downloadUrl ?? '',
    jobId: job?.jobId ?? '',
    statusToken: v.statusToken ?? '',
    jobRunning: running(job?.status),
    jobStatus: job?.status ?? '',
    requestedAt: utc(job?.requestedAt),
    finishedAt: job?.finishedAt ? utc(job.finishedAt) : 'not yet',
    steps: erasureSteps(job),
  });
  // Only a card that follows an export or an erasure refreshes (for a fresh link, or progress).
  if (!e && !job) delete card.refresh;
  return card;
}

const asString = (v: unknown, max: number): string => (typeof v === 'string' ? v.slice(0, max) : '');
const tokenOf = (v: unknown): string | undefined => asString(v, 64) || undefined;
const idOf = (v: unknown): string | undefined => {
  const id = asString(v, 64).toLowerCase();
  return UUID.test(id) ? id : undefined;
};

export function createMyData(deps: MyDataDeps) {
  async function exportView(principal: Principal, userId: string, exportId: string): Promise<MyDataView> {
    return { view: 'home', userId, ...(await exportWithLink(deps, principal, exportId, 'user')) };
  }

  /** One press, for a caller whose card it is. */
  async function act(principal: Principal, userId: string, verb: string, data: Record<string, unknown>): Promise<AdminCard> {
    const home: MyDataView = { view: 'home', userId };
    try {
      switch (verb) {
        case MY_DATA_VERBS.open: {
          const jobId = idOf(data.jobId);
          if (jobId) {
            // With "also delete my account" the presser now has a fresh account: the card's token shows them the end.
            const statusToken = tokenOf(data.statusToken);
            const job = await deps.erasure.myJob(principal, jobId, statusToken);
            const done = job.status === 'done' ? { kind: 'good' as const, text: 'Your data is deleted: nothing of it was found in any store.' } : job.status === 'failed' ? { kind: 'attention' as const, text: 'The deletion did not finish yet; Kluis resumes it by itself.' } : undefined;
            return myDataCard({ view: 'deleting', userId, job, status: done, ...(statusToken ? { statusToken } : {}) });
          }
          const exportId = idOf(data.exportId);
          return myDataCard(exportId ? await exportView(principal, userId, exportId) : home);
        }
        case MY_DATA_VERBS.exportData: {
          const started = await deps.exports.request(principal, 'user');
          return myDataCard({ ...(await exportView(principal, userId, started.id)), status: { kind: 'good', text: 'Export started. This card refreshes until your download is ready.' } });
        }
        case MY_DATA_VERBS.askDelete:
          return myDataCard({ view: 'confirm', userId });
        case MY_DATA_VERBS.deleteData: {
          if (data.confirm !== 'yes') return myDataCard({ ...home, status: { kind: 'attention', text: 'Not deleted: the deletion was not confirmed.' } });
          const deleteAccount = data.deleteAccount === 'true' || data.deleteAccount === true;
          const job = await deps.erasure.eraseMyData(principal, { deleteAccount });
          return myDataCard({ view: 'deleting', userId, job, ...(job.statusToken ? { statusToken: job.statusToken } : {}), status: { kind: 'good', text: deleteAccount ? 'Deleting your data and your account. This card refreshes until it is done.' : 'Deleting your data. This card refreshes until it is done.' } });
        }
        default:
          return myDataRefusalCard(MY_DATA_REFUSALS.unknownAction);
      }
    } catch (error) {
      if (isKluisError(error, 'not_found')) return myDataCard({ ...home, status: { kind: 'attention', text: 'That export or deletion does not exist (any more) for you. Nothing was changed.' } });
      if (!isKluisError(error)) throw error;
      deps.logger.warn({ errorId: error.id, verb, workspaceId: principal.workspaceId }, 'my data action failed');
      return myDataCard({ ...home, status: { kind: 'attention', text: `Could not do this: ${error.publicMessage}` } });
    }
  }

  async function answer(context: TurnContext, verb: string, data: Record<string, unknown>): Promise<AdminCard> {
    const userId = context.activity.from?.id ?? '';
    // The card's binding: a press carrying another person's userId is refused before anything else.
    if (!userId || asString(data.userId, 300) !== userId) return myDataRefusalCard(MY_DATA_REFUSALS.notYours);
    if (!(Object.values(MY_DATA_VERBS) as string[]).includes(verb)) return myDataRefusalCard(MY_DATA_REFUSALS.unknownAction);
    const principal = await callerOf(deps, context);
    if (!principal) return myDataRefusalCard(MY_DATA_REFUSALS.unknown);
    return act(principal, userId, verb, data);
  }

  return {
    /** What the `my data` command answers: the opening card, which holds no data. */
    async open(context: TurnContext): Promise<void> {
      await context.sendActivity({ attachments: [CardFactory.adaptiveCard(myDataOpeningCard(context.activity.from.id))], summary: 'My data in Kluis' });
    },

    register(app: Application<TurnState>): void {
      app.adaptiveCards.actionExecute<Record<string, unknown>>(MY_DATA_VERB, async (context, _state, data) => {
        const verb = String((context.activity.value as { action?: { verb?: unknown } } | undefined)?.action?.verb ?? '');
        const card = await answer(context, verb, data && typeof data === 'object' && !Array.isArray(data) ? data : {});
        await context.sendActivity({ type: ActivityTypes.InvokeResponse, value: { status: 200, body: { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: card } } });
        return card;
      });
    },
  };
}

export type MyData = ReturnType<typeof createMyData>;
