/**
 * The usage store port: per-day aggregates of language-model calls and each workspace's monthly
 * budget. Days are UTC calendar days written `YYYY-MM-DD`; amounts of money are integers in the
 * smallest currency unit (cents), costs in millionths of it so that sums stay exact.
 */

/** What one call adds to its day's row (workspace, user, day, provider, model). */
export interface UsageIncrement {
  workspaceId: string;
  userId: string;
  day: string;
  provider: string;
  model: string;
  /** Calls sent to the provider (answered or failed). */
  calls: number;
  failedCalls: number;
  /** Calls refused before they left Kluis (budget reached). */
  refusedCalls: number;
  inputTokens: number;
  outputTokens: number;
  latencyMs: number;
  costMicros: number;
  unpricedCalls: number;
}

/** One stored aggregate row: the sums of its increments, latency as a total. */
export type UsageRow = Omit<UsageIncrement, 'workspaceId' | 'latencyMs'> & { latencyMsTotal: number };

export interface UsageBudgetSetting {
  /** Cents per calendar month (UTC); null = no limit. */
  monthlyLimitCents: number | null;
  updatedByUserId?: string;
  updatedAt?: Date;
}

export interface UsageStore {
  /** Adds to the day's row, creating it if needed; safe when many processes add at once. */
  add(increment: UsageIncrement): Promise<void>;
  /** Rows of the workspace with fromDay <= day < toDay. */
  rows(workspaceId: string, fromDay: string, toDay: string): Promise<UsageRow[]>;
  /** Sum of costMicros of the workspace with fromDay <= day < toDay. */
  spentMicros(workspaceId: string, fromDay: string, toDay: string): Promise<number>;
  budget(workspaceId: string): Promise<UsageBudgetSetting>;
  setBudget(workspaceId: string, monthlyLimitCents: number | null, updatedByUserId: string): Promise<void>;
}
