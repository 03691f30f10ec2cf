/**
 * Prometheus metrics (prom-client) behind the OperationsMetrics port, and `GET /metrics`.
 *
 * One registry per Kluis instance (never prom-client's global default), so several instances in
 * one process do not clash. Labels are bounded sets: channel, outcome, provider, direction,
 * reason, route pattern, status class, queue state. Never a tenant, workspace or user id.
 *
 * `/metrics` answers a bearer token equal to METRICS_TOKEN. Without METRICS_TOKEN it answers only
 * requests from loopback that did not pass a proxy (no X-Forwarded-For / Forwarded header).
 */
import crypto from 'node:crypto';
import { Router, type Request, type RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AlertKind, OperationsMetrics, QueueDepth } from '../operations/ports';
import { sendError } from './errors';
import { routePattern } from './requestAudit';

export interface PrometheusMetrics extends OperationsMetrics {
  registry: Registry;
  /** Observes every HTTP request's latency by route pattern and status class. */
  httpLatency: RequestHandler;
}

const LABEL = /^[a-z0-9][a-z0-9._-]{0,39}$/i;
/** A label value from a bounded vocabulary: anything unexpected becomes `other`. */
const bounded = (value: string) => (LABEL.test(value) ? value.toLowerCase() : 'other');

export function createPrometheusMetrics(options: { queueDepth?: () => Promise<QueueDepth[]>; onCollectError?: (error: unknown) => void } = {}): PrometheusMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kluis_process_' });
  const registers = [registry];

  const turns = new Counter({ name: 'kluis_turns_total', help: 'Assistant turns (bot and chat) by channel and outcome', labelNames: ['channel', 'outcome'], registers });
  const turnSeconds = new Histogram({ name: 'kluis_turn_duration_seconds', help: 'Assistant turn latency', labelNames: ['channel'], buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80], registers });
  const httpSeconds = new Histogram({
    name: 'kluis_http_request_duration_seconds',
    help: 'HTTP request latency by route pattern and status class',
    labelNames: ['method', 'route', 'status_class'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const providerCalls = new Counter({ name: 'kluis_provider_calls_total', help: 'Language-model calls by provider and outcome', labelNames: ['provider', 'outcome'], registers });
  const providerErrors = new Counter({ name: 'kluis_provider_errors_total', help: 'Failed language-model calls by provider', labelNames: ['provider'], registers });
  const providerTokens = new Counter({ name: 'kluis_provider_tokens_total', help: 'Language-model tokens by provider and direction', labelNames: ['provider', 'direction'], registers });
  const loginFailures = new Counter({ name: 'kluis_login_failures_total', help: 'Failed sign-ins by reason', labelNames: ['reason'], registers });
  const refusals = new Counter({ name: 'kluis_authorization_refusals_total', help: 'Refused authorizations', registers });
  const knowledgeFiles = new Counter({ name: 'kluis_knowledge_files_total', help: 'Files knowledge syncs indexed or failed to index', labelNames: ['result'], registers });
  const uploadLeftovers = new Counter({ name: 'kluis_upload_leftovers_removed_total', help: 'Leftovers of failed uploads removed by housekeeping', registers });
  const alerts = new Counter({ name: 'kluis_alerts_total', help: 'Abnormal-behaviour alerts raised by kind', labelNames: ['kind'], registers });
  const jobs = new Counter({ name: 'kluis_jobs_total', help: 'Background jobs this instance ran, by kind and outcome', labelNames: ['kind', 'outcome'], registers });
  const jobSeconds = new Histogram({ name: 'kluis_job_duration_seconds', help: 'Background job run time by kind', labelNames: ['kind'], buckets: [0.01, 0.1, 0.5, 1, 5, 15, 60, 300, 1800], registers });
  const queueDepth = options.queueDepth;
  new Gauge({
    name: 'kluis_queue_depth',
    help: 'Unfinished rows of the job queues (erasure jobs, jobs) by kind and status, counted on scrape',
    labelNames: ['queue', 'kind', 'status'],
    registers,
    async collect() {
      this.reset();
      if (!queueDepth) return;
      try {
        for (const row of await queueDepth()) this.set({ queue: bounded(row.queue), kind: bounded(row.kind), status: bounded(row.status) }, row.count);
      } catch (error) {
        options.onCollectError?.(error);
      }
    },
  });

  for (const kind of ['login_failures', 'document_reads', 'authorization_refusals', 'provider_errors'] satisfies AlertKind[]) alerts.inc({ kind }, 0);
  refusals.inc(0);
  uploadLeftovers.inc(0);

  return {
    registry,
    turn(channel, outcome, seconds) {
      turns.inc({ channel: bounded(channel), outcome });
      turnSeconds.observe({ channel: bounded(channel) }, seconds);
    },
    providerCall(provider, outcome, inputTokens, outputTokens) {
      const p = bounded(provider);
      providerCalls.inc({ provider: p, outcome: bounded(outcome) });
      if (outcome === 'failure') providerErrors.inc({ provider: p });
      if (inputTokens > 0) providerTokens.inc({ provider: p, direction: 'input' }, inputTokens);
      if (outputTokens > 0) providerTokens.inc({ provider: p, direction: 'output' }, outputTokens);
    },
    loginFailure: (reason) => loginFailures.inc({ reason: bounded(reason) }),
    authorizationRefused: () => refusals.inc(),
    knowledgeFiles: (result, count) => count > 0 && knowledgeFiles.inc({ result }, count),
    uploadLeftoversRemoved: (count) => count > 0 && uploadLeftovers.inc(count),
    alertRaised: (kind) => alerts.inc({ kind }),
    job(kind, outcome, seconds) {
      jobs.inc({ kind: bounded(kind), outcome });
      jobSeconds.observe({ kind: bounded(kind) }, seconds);
    },
    httpLatency(req, res, next) {
      const started = performance.now();
      res.once('finish', () => {
        // Unmatched paths share one label, so probing random URLs cannot grow the series.
        const route = req.route ? routePattern(req) : '(unmatched)';
        httpSeconds.observe({ method: bounded(req.method), route, status_class: `${Math.floor(res.statusCode / 100)}xx` }, (performance.now() - started) / 1000);
      });
      next();
    },
  };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer (.+)$/.exec(header ?? '');
  if (!match) return false;
  const a = crypto.createHash('sha256').update(match[1]!).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

/** A direct loopback caller: no proxy header, and the socket's (and trusted client) address is loopback. */
function isDirectLoopback(req: Request): boolean {
  if (req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined) return false;
  return LOOPBACK.test(req.socket.remoteAddress ?? '') && LOOPBACK.test(req.ip ?? '');
}

export function metricsRouter(deps: { metrics: PrometheusMetrics; token?: string }): Router {
  const router = Router();
  router.get('/metrics', async (req, res, next) => {
    try {
      if (deps.token) {
        if (!tokenMatches(req.headers.authorization, deps.token)) {
          res.setHeader('WWW-Authenticate', 'Bearer');
          return sendError(res, 'unauthenticated');
        }
      } else if (!isDirectLoopback(req)) return sendError(res, 'forbidden');
      res.setHeader('Content-Type', deps.metrics.registry.contentType);
      res.setHeader('Cache-Control', 'no-store');
      res.send(await deps.metrics.registry.metrics());
    } catch (error) {
      next(error);
    }
  });
  return router;
}
