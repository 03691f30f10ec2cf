/** GET /healthz (the process is alive) and GET /readyz (every store answers). */
import { Router } from 'express';

export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/**
 * A store that has not answered within this is reported down. Without it a stopped database held
 * every /readyz for the connection pool's acquire timeout (10 s), longer than a probe waits.
 */
export const READINESS_CHECK_TIMEOUT_MS = 2_000;

function withinTimeout(check: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([check, timeout]).finally(() => clearTimeout(timer));
}

export function healthRouter(checks: ReadinessCheck[]): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await Promise.all(
      checks.map(async (c) => {
        const started = performance.now();
        try {
          await withinTimeout(c.check(), READINESS_CHECK_TIMEOUT_MS);
          return { name: c.name, ok: true, ms: Math.round(performance.now() - started) };
        } catch {
          // The reason goes to the log of the failing component, not to an unauthenticated caller.
          return { name: c.name, ok: false, ms: Math.round(performance.now() - started) };
        }
      }),
    );
    const ready = results.every((r) => r.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', checks: Object.fromEntries(results.map((r) => [r.name, { ok: r.ok, ms: r.ms }])) });
  });
  return router;
}
