/**
 * The operations ports: what domain code reports for metrics and alerts, without knowing how
 * (Prometheus in api/http/metrics.ts, a webhook in alertWebhook.ts). Labels are bounded sets
 * (channel, outcome, provider, reason); never a tenant name, a user id or any content.
 */

export interface OperationsMetrics {
  /** One assistant turn (bot or chat): its channel, outcome and latency in seconds. */
  turn(channel: string, outcome: 'answered' | 'failed', seconds: number): void;
  /** One language-model call as the usage meter recorded it. */
  providerCall(provider: string, outcome: string, inputTokens: number, outputTokens: number): void;
  /** A failed sign-in, by the attempt log's outcome (wrong-password, throttled, ...). */
  loginFailure(reason: string): void;
  /** A refused authorization (policy.ts `authorize`). */
  authorizationRefused(): void;
  /** Files a knowledge sync indexed or could not index. */
  knowledgeFiles(result: 'indexed' | 'failed', count: number): void;
  /** Leftovers of failed uploads that housekeeping removed (api/knowledge/uploadLeftovers.ts). */
  uploadLeftoversRemoved(count: number): void;
  /** An abnormal-behaviour alert was raised. */
  alertRaised(kind: AlertKind): void;
  /** One background job this replica ran (the job queue's kind), its outcome and duration. */
  job(kind: string, outcome: 'succeeded' | 'failed', seconds: number): void;
}

export type AlertKind = 'login_failures' | 'document_reads' | 'authorization_refusals' | 'provider_errors';

/** One alert: metadata only (who and how many), never content. */
export interface AlertEvent {
  kind: AlertKind;
  /** The workspace the events belong to, when they belong to one. */
  workspaceId?: string;
  /** The user concerned (document reads, refusals): an internal id, never a name or address. */
  userId?: string;
  /** The provider concerned (provider errors). */
  provider?: string;
  count: number;
  threshold: number;
  windowSeconds: number;
  at: string;
}

/** Where raised alerts go (log, metric, webhook). Never throws, never blocks the caller. */
export interface AlertSink {
  raise(alert: AlertEvent): void;
}

/** A metrics port that counts nothing: for callers built without operations wiring. */
export const NO_METRICS: OperationsMetrics = {
  turn: () => undefined,
  providerCall: () => undefined,
  loginFailure: () => undefined,
  authorizationRefused: () => undefined,
  knowledgeFiles: () => undefined,
  uploadLeftoversRemoved: () => undefined,
  alertRaised: () => undefined,
  job: () => undefined,
};

/** A queue's unfinished rows by kind and status, counted on each metrics scrape. */
export interface QueueDepth {
  queue: string;
  kind: string;
  status: string;
  count: number;
}
