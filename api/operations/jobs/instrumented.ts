/**
 * Wraps a job queue so every job this replica runs is counted (`job` on the metrics port: kind,
 * outcome, seconds) and every scheduled run leaves one log line naming its kind and period, so an
 * operator can see that a period fired once across the replicas. Payloads are never logged.
 */
import type { Logger } from 'pino';
import type { OperationsMetrics } from '../ports';
import type { JobDefinition, JobPayload, JobQueue } from './ports';

export function instrumentJobQueue(queue: JobQueue, deps: { metrics: Pick<OperationsMetrics, 'job'>; logger: Logger }): JobQueue {
  return {
    get backend() {
      return queue.backend;
    },
    define<P extends JobPayload>(definition: JobDefinition<P>) {
      queue.define<P>({
        ...definition,
        async handle(payload, context) {
          const started = performance.now();
          try {
            await definition.handle(payload, context);
          } catch (error) {
            deps.metrics.job(definition.kind, 'failed', (performance.now() - started) / 1000);
            throw error;
          }
          const seconds = (performance.now() - started) / 1000;
          deps.metrics.job(definition.kind, 'succeeded', seconds);
          if (context.scheduledFor) deps.logger.info({ kind: definition.kind, period: context.scheduledFor.toISOString(), ms: Math.round(seconds * 1000) }, 'scheduled job ran');
        },
      });
    },
    enqueue: (kind: string, payload: JobPayload, options) => queue.enqueue(kind, payload, options),
    every: (...args) => queue.every(...args),
    start: () => queue.start(),
    stop: (graceMs) => queue.stop(graceMs),
    drain: (kinds, timeoutMs) => queue.drain(kinds, timeoutMs),
    depth: () => queue.depth(),
  };
}
