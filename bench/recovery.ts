/**
 * Recovery after a store outage, in a Kluis started in-process (private MariaDB on a fixed port,
 * LanceDB, S3-protocol blob store served by s3rver, demo knowledge): the store is stopped, Kluis is
 * asked while it is down, and the store is started again. Measured per round:
 *   - how long /readyz takes to answer 503 while the store is down (what a probe's timeout must allow);
 *   - restart: from the start command until the store accepts connections again;
 *   - /readyz 200: from the start command until Kluis reports ready again (polled every 20 ms);
 *   - first success: from the start command until the first question is answered (database) or the
 *     first blob is stored (blob store; answering needs no blob), tried right after /readyz is 200.
 * The search index (LanceDB) runs inside Kluis: it has no server to stop, so it has no figure here.
 * Baseline: /readyz with every store up.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../api/config';
import { READINESS_CHECK_TIMEOUT_MS } from '../api/http/health';
import { createLogger } from '../api/logger';
import { startKluis, type Kluis } from '../api/main';
import type { Principal } from '../api/tenancy/principal';
import { startStoppableMariadb, startStoppableS3, type StoppableMariadb, type StoppableS3 } from '../tests/support/faults';
import { QUESTIONS, REPO_ROOT } from './corpus';
import { summarize, type BenchContext, type BenchResult, type Figure } from './stats';

const BENCH = 'recovery';

async function readyz(url: string): Promise<number> {
  return (await fetch(`${url}/readyz`)).status;
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const value = await work();
  return [value, performance.now() - started];
}

export async function runRecovery(context: BenchContext): Promise<BenchResult> {
  const log = context.log;
  const rounds = context.quick ? 2 : 5;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-recovery-'));
  fs.chmodSync(root, 0o755);
  let mariadb: StoppableMariadb | undefined;
  let s3: StoppableS3 | undefined;
  let kluis: Kluis | undefined;
  try {
    [mariadb, s3] = await Promise.all([startStoppableMariadb('kluis_bench_recovery'), startStoppableS3()]);
    const tenantId = randomUUID();
    const config = loadConfig(
      { LOCAL_MODE: 'true', PORT: '0', DATABASE_URL: mariadb.url, DATA_DIR: path.join(root, 'data'), KNOWLEDGE_DIR: 'demo/knowledge', KNOWLEDGE_TENANT_ID: tenantId, KNOWLEDGE_WATCH: 'false', LOG_LEVEL: 'silent', LOCAL_TENANT_ID: randomUUID(), ASSISTANT_PROVIDER: 'extractive', RETENTION_SWEEP_INTERVAL_MINUTES: '0', ...s3.env },
      { dotenv: false, cwd: REPO_ROOT },
    );
    kluis = await startKluis(config, { logger: createLogger(config.logLevel) });
    const running = kluis;
    log(`  Kluis started in-process (${running.initialSync?.indexed ?? 0} demo documents, private MariaDB on port ${mariadb.port}, s3rver on port ${s3.port})`);
    const principal: Principal = await running.modules.principals.resolve({ tenantId, entraObjectId: randomUUID(), authMethod: 'entra-token', appRoles: ['Kluis.User'] });
    let asked = 0;
    const answer = () => running.modules.assistant.answer(principal, QUESTIONS[asked++ % QUESTIONS.length]!, { channel: 'bench', conversationExternalId: randomUUID() });
    const storeBlob = () => running.modules.blobs.put(principal.workspaceId, `bench/${randomUUID()}`, Buffer.from('recovery'));
    await answer();
    await storeBlob();

    const baseline: number[] = [];
    for (let i = 0; i < 20; i++) baseline.push((await timed(() => readyz(running.url)))[1]);
    const readyBaseline = summarize(baseline).p50;

    const figures: Figure[] = [];
    const stores: Array<{ name: string; store: StoppableMariadb | StoppableS3; success: () => Promise<unknown>; successLabel: string }> = [
      { name: 'database', store: mariadb, success: answer, successLabel: 'first answered question' },
      { name: 'blob store', store: s3, success: storeBlob, successLabel: 'first stored blob' },
    ];
    for (const { name, store, success, successLabel } of stores) {
      const downAnswer: number[] = [];
      const restart: number[] = [];
      const ready: number[] = [];
      const first: number[] = [];
      for (let round = 0; round < rounds; round++) {
        await store.stop();
        const [status, ms] = await timed(() => readyz(running.url));
        if (status !== 503) throw new Error(`/readyz answered ${status} with the ${name} stopped`);
        downAnswer.push(ms);
        const started = performance.now();
        await store.start();
        restart.push(performance.now() - started);
        while ((await readyz(running.url)) !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
        ready.push(performance.now() - started);
        for (;;) {
          try {
            await success();
            break;
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
        first.push(performance.now() - started);
      }
      const p50 = (samples: number[]) => summarize(samples).p50;
      log(`  ${name}: /readyz while down ${p50(downAnswer).toFixed(0)} ms; restart ${p50(restart).toFixed(0)} ms, ready ${p50(ready).toFixed(0)} ms, ${successLabel} ${p50(first).toFixed(0)} ms (p50 of ${rounds})`);
      figures.push(
        { benchmark: BENCH, metric: `${name}: /readyz 503 while down (p50)`, value: p50(downAnswer), unit: 'ms', baseline: { label: '/readyz all up', value: readyBaseline } },
        { benchmark: BENCH, metric: `${name}: restart until it accepts connections (p50)`, value: p50(restart), unit: 'ms' },
        { benchmark: BENCH, metric: `${name}: restart -> /readyz 200 (p50)`, value: p50(ready), unit: 'ms' },
        { benchmark: BENCH, metric: `${name}: restart -> ${successLabel} (p50)`, value: p50(first), unit: 'ms' },
      );
    }
    return {
      figures,
      notes: [
        `recovery: ${rounds} outages per store, /readyz asked during each; times from the start command (p50).`,
        `recovery: a store that does not answer /readyz's check within ${READINESS_CHECK_TIMEOUT_MS} ms counts as down (a stopped database never refuses: the pool waits for a connection), so that is the database's /readyz time while down.`,
      ],
    };
  } finally {
    await kluis?.stop().catch(() => undefined);
    await mariadb?.close().catch(() => undefined);
    await s3?.close().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
