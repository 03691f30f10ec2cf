/**
 * Where a raised alert goes: one structured `alert` log event, the alerts counter, and (with
 * ALERT_WEBHOOK_URL) one JSON POST. The POST runs in the background with a timeout; a failure is
 * logged and never reaches the request that raised the alert. The detectors already send one
 * alert per key and window, so a burst makes one POST.
 */
import type { AlertEvent, AlertSink, OperationsMetrics } from './ports';

/** The part of a pino logger the sink uses. */
export interface AlertLog {
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface AlertSinkDeps {
  log: AlertLog;
  metrics: OperationsMetrics;
  webhook?: { url: string; timeoutMs: number };
  /** The tenant id of a workspace, for the webhook payload and log (undefined when unknown). */
  tenantOf?: (workspaceId: string) => Promise<string | undefined>;
}

export interface BackgroundAlertSink extends AlertSink {
  /** Resolves when every webhook POST started so far has ended (tests, shutdown). */
  settled(): Promise<void>;
}

export function createAlertSink(deps: AlertSinkDeps): BackgroundAlertSink {
  const pending = new Set<Promise<void>>();
  const deliver = async (alert: AlertEvent) => {
    const tenantId = alert.workspaceId && deps.tenantOf ? await deps.tenantOf(alert.workspaceId).catch(() => undefined) : undefined;
    deps.log.warn({ event: 'alert', ...alert, ...(tenantId ? { tenantId } : {}) }, `alert: ${alert.kind}`);
    if (!deps.webhook) return;
    try {
      const response = await fetch(deps.webhook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ source: 'kluis', ...alert, ...(tenantId ? { tenantId } : {}) }),
        signal: AbortSignal.timeout(deps.webhook.timeoutMs),
        redirect: 'error',
      });
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) deps.log.error({ event: 'alert.webhook_failed', kind: alert.kind, status: response.status }, 'alert webhook refused the alert');
    } catch (error) {
      const name = (error as { name?: unknown } | undefined)?.name;
      const reason = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'unreachable';
      deps.log.error({ event: 'alert.webhook_failed', kind: alert.kind, reason }, 'alert webhook could not be reached');
    }
  };
  return {
    raise(alert) {
      deps.metrics.alertRaised(alert.kind);
      const p = deliver(alert).catch(() => undefined);
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
    async settled() {
      while (pending.size) await Promise.all([...pending]);
    },
  };
}
