/**
 * The usage meter: every language-model call of a user, counted per UTC day, provider and model
 * (tokens in and out, latency, outcome, estimated cost), and the workspace's monthly budget.
 *
 * Channels never call providers directly through the meter; the answer pipeline wraps its
 * provider per answer with `meter.forPrincipal(principal).wrap(provider)` (meteredProvider.ts),
 * which refuses paid calls once this month's estimated spend has reached the budget and records
 * every call, failed ones included. Months are UTC calendar months, so every replica and every
 * report agree on where a month ends. Admins read the figures and set the budget through
 * `report` and `setBudget`; both go through the policy and the budget change is audited.
 */
import { z } from 'zod';
import type { AuditLog } from '../audit/ports';
import { fail } from '../errors';
import { authorize } from '../tenancy/policy';
import type { Principal } from '../tenancy/principal';
import { meteredProvider } from './meteredProvider';
import type { ChatProvider } from './ports';
import { costMicros, isFreeProvider, microsToCents, priceOf, type PriceTable } from './pricing';
import type { UsageRow, UsageStore } from './usagePorts';

export type UsageOutcome = 'success' | 'failure' | 'refused';

/** One call as the meter sees it. */
export interface UsageCall {
  workspaceId: string;
  userId: string;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
  outcome: UsageOutcome;
}

/** The largest budget accepted: ten million currency units in cents (fits the INT column). */
export const MAX_MONTHLY_BUDGET_CENTS = 1_000_000_000;

/** A budget change as a channel receives it: `{ monthlyLimitCents: <whole cents> | null }`. */
export const budgetChange = z
  .object({ monthlyLimitCents: z.number().int('expected whole cents').min(0).max(MAX_MONTHLY_BUDGET_CENTS).nullable() })
  .strict();

/** Shown by channels that answer in the user's language when a call is refused for the budget. */
export const BUDGET_EXHAUSTED_TEXT = {
  en: "This month's budget for the assistant is used up. Ask an administrator of your organisation to raise it, or try again next month.",
  nl: 'Het budget van deze maand voor de assistent is op. Vraag een beheerder van je organisatie om het te verhogen, of probeer het volgende maand opnieuw.',
} as const;

/* ------------------------------------------------------------------------------------------ */
/* UTC calendar arithmetic.                                                                      */

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

/** `YYYY-MM-DD` of the UTC day of `at`. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** `YYYY-MM` of the UTC month of `at`. */
export function utcMonth(at: Date): string {
  return at.toISOString().slice(0, 7);
}

/** True for `YYYY-MM` with a month 01-12 and a year from 2000 to 9998. */
export function isMonth(value: string): boolean {
  const match = MONTH.exec(value);
  return !!match && Number(match[1]) >= 2000 && Number(match[1]) <= 9998;
}

/** First day of the month and first day of the next one (exclusive end), as `YYYY-MM-DD`. */
export function monthDays(month: string): { fromDay: string; toDay: string } {
  if (!isMonth(month)) fail('request_malformed', `Not a month (YYYY-MM): ${month.slice(0, 20)}`);
  const [year, mon] = month.split('-').map(Number) as [number, number];
  const next = new Date(Date.UTC(year, mon, 1));
  return { fromDay: `${month}-01`, toDay: utcDay(next) };
}

/** Whole seconds from `at` to the start of the next UTC month (at least 1). */
export function secondsUntilNextMonth(at: Date): number {
  const next = Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1);
  return Math.max(1, Math.ceil((next - at.getTime()) / 1000));
}

/* ------------------------------------------------------------------------------------------ */
/* Reports.                                                                                      */

interface Figures {
  calls: number;
  failedCalls: number;
  refusedCalls: number;
  inputTokens: number;
  outputTokens: number;
  /** Mean over calls sent to the provider; null without any. */
  averageLatencyMs: number | null;
  costCents: number;
  /** Calls of models without a price: their cost is missing from costCents. */
  unpricedCalls: number;
}

export interface UsageReport {
  month: string;
  currency: string;
  budget: { monthlyLimitCents: number | null; spentCents: number; exhausted: boolean };
  totals: Figures;
  byModel: Array<{ provider: string; model: string } & Figures>;
  byUserDay: Array<{ userId: string; day: string } & Figures>;
}

function sum(rows: UsageRow[]): Figures {
  const t = rows.reduce(
    (a, r) => ({
      calls: a.calls + r.calls,
      failedCalls: a.failedCalls + r.failedCalls,
      refusedCalls: a.refusedCalls + r.refusedCalls,
      inputTokens: a.inputTokens + r.inputTokens,
      outputTokens: a.outputTokens + r.outputTokens,
      latency: a.latency + r.latencyMsTotal,
      micros: a.micros + r.costMicros,
      unpricedCalls: a.unpricedCalls + r.unpricedCalls,
    }),
    { calls: 0, failedCalls: 0, refusedCalls: 0, inputTokens: 0, outputTokens: 0, latency: 0, micros: 0, unpricedCalls: 0 },
  );
  return {
    calls: t.calls,
    failedCalls: t.failedCalls,
    refusedCalls: t.refusedCalls,
    inputTokens: t.inputTokens,
    outputTokens: t.outputTokens,
    averageLatencyMs: t.calls > 0 ? Math.round(t.latency / t.calls) : null,
    costCents: microsToCents(t.micros),
    unpricedCalls: t.unpricedCalls,
  };
}

function groupBy<K extends string>(rows: UsageRow[], key: (r: UsageRow) => K): Map<K, UsageRow[]> {
  const groups = new Map<K, UsageRow[]>();
  for (const row of rows) {
    const k = key(row);
    groups.set(k, [...(groups.get(k) ?? []), row]);
  }
  return groups;
}

/* ------------------------------------------------------------------------------------------ */

export interface UsageMeterDeps {
  store: UsageStore;
  audit: AuditLog;
  prices: PriceTable;
  /** ISO 4217 code the prices and budgets are in. */
  currency: string;
  now?: () => Date;
  /** Every call, as it is recorded (metrics and alerts); must not throw. */
  onCall?: (call: UsageCall) => void;
  /** A call was made but could not be recorded (the store is down): log it; the answer stands. */
  onRecordError?: (error: unknown, call: UsageCall) => void;
  /** A call of a model without a price was recorded (cost 0). */
  onUnpriced?: (call: UsageCall) => void;
}

export interface MeteredScope {
  /** The provider, metered for this principal; `stream`, when the provider has it, too. */
  wrap<P extends ChatProvider>(provider: P): P;
}

export function createUsageMeter(deps: UsageMeterDeps) {
  const now = deps.now ?? (() => new Date());

  /** Records one call. Never throws: a lost record is reported through onRecordError. */
  async function record(call: UsageCall): Promise<void> {
    deps.onCall?.(call);
    const { price, known } = priceOf(deps.prices, call.provider, call.model);
    const sent = call.outcome !== 'refused';
    try {
      await deps.store.add({
        workspaceId: call.workspaceId,
        userId: call.userId,
        day: utcDay(now()),
        provider: call.provider.slice(0, 32),
        model: call.model.slice(0, 100),
        calls: sent ? 1 : 0,
        failedCalls: call.outcome === 'failure' ? 1 : 0,
        refusedCalls: sent ? 0 : 1,
        inputTokens: call.inputTokens,
        outputTokens: call.outputTokens,
        latencyMs: Math.max(0, Math.round(call.latencyMs)),
        costMicros: costMicros(price, call),
        // Only an answered call names its model; a failed one is not "unpriced".
        unpricedCalls: known || call.outcome !== 'success' ? 0 : 1,
      });
      if (!known && call.outcome === 'success') deps.onUnpriced?.(call);
    } catch (error) {
      deps.onRecordError?.(error, call);
    }
  }

  /** This month's estimated spend and whether it has reached the budget. */
  async function budgetState(workspaceId: string, month = utcMonth(now())) {
    const { fromDay, toDay } = monthDays(month);
    const [budget, micros] = await Promise.all([deps.store.budget(workspaceId), deps.store.spentMicros(workspaceId, fromDay, toDay)]);
    const limit = budget.monthlyLimitCents;
    return { monthlyLimitCents: limit, spentMicros: micros, exhausted: limit !== null && micros >= limit * 1_000_000 };
  }

  return {
    record,

    forPrincipal(principal: Principal): MeteredScope {
      return {
        wrap: (provider) =>
          meteredProvider(provider, {
            free: isFreeProvider(deps.prices, provider.name),
            async admit() {
              const state = await budgetState(principal.workspaceId);
              if (!state.exhausted) return;
              await record({ workspaceId: principal.workspaceId, userId: principal.userId, provider: provider.name, model: 'unknown', inputTokens: 0, outputTokens: 0, latencyMs: 0, outcome: 'refused' });
              fail('budget_exhausted', `Workspace ${principal.workspaceId} spent ${state.spentMicros} micros of ${state.monthlyLimitCents} cents this month`, { retryAfterSeconds: secondsUntilNextMonth(now()) });
            },
            record: (call) => record({ ...call, workspaceId: principal.workspaceId, userId: principal.userId }),
          }),
      };
    },

    /** The month's (`YYYY-MM`, UTC) figures for the caller's own workspace (admins); the month is checked after the policy. */
    async report(principal: Principal, month: string): Promise<UsageReport> {
      await authorize(principal, 'usage.read', { workspaceId: principal.workspaceId }, deps.audit);
      const { fromDay, toDay } = monthDays(month);
      const rows = await deps.store.rows(principal.workspaceId, fromDay, toDay);
      const state = await budgetState(principal.workspaceId, month);
      const byModel = [...groupBy(rows, (r) => `${r.provider}\u0000${r.model}`).values()].map((g) => ({ provider: g[0]!.provider, model: g[0]!.model, ...sum(g) }));
      const byUserDay = [...groupBy(rows, (r) => `${r.day}\u0000${r.userId}`).values()].map((g) => ({ userId: g[0]!.userId, day: g[0]!.day, ...sum(g) }));
      byModel.sort((a, b) => b.costCents - a.costCents || a.provider.localeCompare(b.provider) || a.model.localeCompare(b.model));
      byUserDay.sort((a, b) => a.day.localeCompare(b.day) || a.userId.localeCompare(b.userId));
      return {
        month,
        currency: deps.currency,
        budget: { monthlyLimitCents: state.monthlyLimitCents, spentCents: microsToCents(state.spentMicros), exhausted: state.exhausted },
        totals: sum(rows),
        byModel,
        byUserDay,
      };
    },

    /**
     * Sets (or, with null, removes) the workspace's monthly budget (admins; audited). The change
     * is checked after the policy, so a non-admin learns nothing about what would be accepted.
     */
    async setBudget(principal: Principal, change: unknown): Promise<{ monthlyLimitCents: number | null; currency: string }> {
      await authorize(principal, 'usage.budget', { workspaceId: principal.workspaceId }, deps.audit);
      const parsed = budgetChange.safeParse(change);
      if (!parsed.success) fail('request_malformed', `Field ${parsed.error.issues[0]!.path.join('.') || '(body)'}: ${parsed.error.issues[0]!.message}`);
      const { monthlyLimitCents } = parsed.data;
      const previous = await deps.store.budget(principal.workspaceId);
      await deps.store.setBudget(principal.workspaceId, monthlyLimitCents, principal.userId);
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'usage.budget.changed', outcome: 'success', detail: { from: previous.monthlyLimitCents, to: monthlyLimitCents, currency: deps.currency } });
      return { monthlyLimitCents, currency: deps.currency };
    },
  };
}

export type UsageMeter = ReturnType<typeof createUsageMeter>;
