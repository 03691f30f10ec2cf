/**
 * Decorators that let operations watch events which already happen, without the domain modules
 * knowing: the audit log (answers and their citations, downloads, refused authorizations), the
 * login attempt log (failed sign-ins), the usage meter's calls (provider calls, tokens, errors)
 * and the assistant (turns and their latency). Built in api/main.ts only; each passes everything
 * through unchanged and never lets an observer's failure reach the caller.
 */
import type { Assistant } from '../assistant/assistant';
import type { UsageCall } from '../assistant/usage';
import type { AuditLog } from '../audit/ports';
import type { LoginAttemptLog } from '../identity/ports';
import type { AlertDetectors } from './alerts';
import type { OperationsMetrics } from './ports';

export interface Observers {
  metrics: OperationsMetrics;
  detectors: AlertDetectors;
}

/** Attempt outcomes that are not failures. */
const LOGIN_OK = new Set(['success', 'created', 'exists', 'sent', 'second-factor-required']);
/** Reasons kept as metric labels; any other becomes `other` (the label set stays bounded). */
const LOGIN_REASONS = new Set(['wrong-password', 'unknown-account', 'throttled', 'wrong-code', 'microsoft-only', 'locked', 'disabled']);

const safely = (f: () => void) => {
  try {
    f();
  } catch {
    // An observer never breaks the observed call.
  }
};

export function observeLoginAttempts(log: LoginAttemptLog, o: Observers): LoginAttemptLog {
  return {
    purgeOlderThan: (cutoff) => log.purgeOlderThan(cutoff),
    async record(attempt) {
      if (!LOGIN_OK.has(attempt.outcome) && attempt.method !== 'reset-request')
        safely(() => {
          o.metrics.loginFailure(LOGIN_REASONS.has(attempt.outcome) ? attempt.outcome : 'other');
          o.detectors.loginFailed(attempt.workspaceId);
        });
      return log.record(attempt);
    },
  };
}

/** Audit kinds that mean a user read documents: an answer's citations count, a download counts one. */
const DOWNLOADS = new Set(['file.downloaded', 'export.downloaded']);

/** The same log (with its other methods, such as retention), its `record` observed. */
export function observeAuditLog<A extends AuditLog>(audit: A, o: Observers): A {
  return {
    ...audit,
    async record(event: Parameters<AuditLog['record']>[0]) {
      safely(() => {
        if (event.kind === 'authorization.refused') {
          o.metrics.authorizationRefused();
          o.detectors.authorizationRefused(event.workspaceId, event.actorUserId);
        } else if (event.actorUserId && event.kind === 'assistant.answer' && typeof event.detail?.citations === 'number' && event.detail.citations > 0) {
          o.detectors.documentsRead(event.workspaceId, event.actorUserId, event.detail.citations);
        } else if (event.actorUserId && DOWNLOADS.has(event.kind) && event.outcome === 'success') {
          o.detectors.documentsRead(event.workspaceId, event.actorUserId, 1);
        }
      });
      return audit.record(event);
    },
  };
}

/** For the usage meter's `onCall`: every language-model call, failed ones included. */
export function observeUsageCall(o: Observers): (call: UsageCall) => void {
  return (call) =>
    safely(() => {
      o.metrics.providerCall(call.provider, call.outcome, call.inputTokens, call.outputTokens);
      if (call.outcome === 'failure') o.detectors.providerFailed(call.provider, call.workspaceId);
    });
}

export function observeAssistant(assistant: Assistant, o: Observers): Assistant {
  return {
    startNewConversation: (principal, context) => assistant.startNewConversation(principal, context),
    async answer(principal, question, context, events) {
      const started = performance.now();
      let outcome: 'answered' | 'failed' = 'failed';
      try {
        const answer = await assistant.answer(principal, question, context, events);
        outcome = 'answered';
        return answer;
      } finally {
        safely(() => o.metrics.turn(context.channel, outcome, (performance.now() - started) / 1000));
      }
    },
  };
}
