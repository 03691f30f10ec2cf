/**
 * Abnormal-behaviour detectors: sliding windows over events that already happen (failed sign-ins,
 * documents read, refused authorizations, provider errors). When a key (a workspace, a user, a
 * provider) reaches its threshold within the window, one alert goes to the sink; further events of
 * the same burst are not alerted again until a full window has passed since that alert.
 *
 * In memory and per process: a replica sees its own share of the traffic, which is what a burst
 * detector needs. The number of keys followed is bounded; the oldest key is dropped first.
 */
import type { AlertEvent, AlertKind, AlertSink } from './ports';

export interface DetectorThreshold {
  /** Events within the window that raise the alert (0 switches the detector off). */
  threshold: number;
  windowSeconds: number;
}

export interface AlertThresholds {
  loginFailures: DetectorThreshold;
  documentReads: DetectorThreshold;
  authorizationRefusals: DetectorThreshold;
  providerErrors: DetectorThreshold;
}

export const DEFAULT_ALERT_THRESHOLDS: AlertThresholds = {
  loginFailures: { threshold: 20, windowSeconds: 300 },
  documentReads: { threshold: 200, windowSeconds: 600 },
  authorizationRefusals: { threshold: 10, windowSeconds: 300 },
  providerErrors: { threshold: 10, windowSeconds: 300 },
};

/** Keys followed per detector; beyond it the least recently seen key is forgotten. */
export const MAX_TRACKED_KEYS = 10_000;

interface Window {
  /** Event times (ms) inside the window, with their weights. */
  events: Array<{ at: number; weight: number }>;
  total: number;
  /** When this key last raised an alert (ms). */
  alertedAt?: number;
}

export interface SlidingWindowDetector {
  /** Adds `weight` events for `key`; true when this call raised the alert. */
  hit(key: string, weight?: number): { raised: boolean; count: number };
  /** Keys currently followed (for tests and the bound). */
  size(): number;
}

export function slidingWindowDetector(limits: DetectorThreshold, now: () => number = Date.now, maxKeys = MAX_TRACKED_KEYS): SlidingWindowDetector {
  const windows = new Map<string, Window>();
  const windowMs = limits.windowSeconds * 1000;
  return {
    hit(key, weight = 1) {
      if (limits.threshold <= 0 || weight <= 0) return { raised: false, count: 0 };
      const at = now();
      let w = windows.get(key);
      if (w) windows.delete(key);
      else {
        w = { events: [], total: 0 };
        if (windows.size >= maxKeys) windows.delete(windows.keys().next().value as string);
      }
      windows.set(key, w); // most recently seen last
      while (w.events.length && w.events[0]!.at <= at - windowMs) w.total -= w.events.shift()!.weight;
      w.events.push({ at, weight });
      w.total += weight;
      const quiet = w.alertedAt === undefined || at - w.alertedAt >= windowMs;
      if (w.total >= limits.threshold && quiet) {
        w.alertedAt = at;
        return { raised: true, count: w.total };
      }
      return { raised: false, count: w.total };
    },
    size: () => windows.size,
  };
}

export interface AlertDetectors {
  loginFailed(workspaceId: string | undefined): void;
  documentsRead(workspaceId: string, userId: string, count: number): void;
  authorizationRefused(workspaceId: string, userId: string | undefined): void;
  providerFailed(provider: string, workspaceId?: string): void;
}

export function createAlertDetectors(deps: { thresholds: AlertThresholds; sink: AlertSink; now?: () => number }): AlertDetectors {
  const now = deps.now ?? Date.now;
  const t = deps.thresholds;
  const logins = slidingWindowDetector(t.loginFailures, now);
  const reads = slidingWindowDetector(t.documentReads, now);
  const refusals = slidingWindowDetector(t.authorizationRefusals, now);
  const providers = slidingWindowDetector(t.providerErrors, now);

  const check = (kind: AlertKind, limits: DetectorThreshold, result: { raised: boolean; count: number }, who: Pick<AlertEvent, 'workspaceId' | 'userId' | 'provider'>) => {
    if (!result.raised) return;
    deps.sink.raise({ kind, ...who, count: result.count, threshold: limits.threshold, windowSeconds: limits.windowSeconds, at: new Date(now()).toISOString() });
  };
  return {
    // Failed sign-ins of unknown accounts belong to no workspace: they are followed together.
    loginFailed: (workspaceId) => check('login_failures', t.loginFailures, logins.hit(workspaceId ?? '(none)'), { workspaceId }),
    documentsRead: (workspaceId, userId, count) => check('document_reads', t.documentReads, reads.hit(`${workspaceId}/${userId}`, count), { workspaceId, userId }),
    authorizationRefused: (workspaceId, userId) =>
      check('authorization_refusals', t.authorizationRefusals, refusals.hit(`${workspaceId}/${userId ?? '(none)'}`), { workspaceId, userId }),
    providerFailed: (provider, workspaceId) => check('provider_errors', t.providerErrors, providers.hit(provider), { provider, workspaceId }),
  };
}
