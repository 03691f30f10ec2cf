/**
 * Audit log appends: what the hash chain costs against a plain insert of the same event.
 *
 * 1. Plain insert (baseline): one `auditEvent.create` per event, no lock, no hash, through the same
 *    Prisma client; sequential (latency) and 8 in flight (throughput).
 * 2. Chained append (`createPrismaAuditLog().record`): a transaction that locks the workspace's chain
 *    head, hashes the event, inserts it and moves the head. Sequential; 8 in flight on ONE
 *    workspace (they queue on its head); 8 in flight spread over 8 workspaces (they do not).
 * 3. Verification: events checked per second when walking one workspace's chain.
 *
 * Everything runs against a private MariaDB in a temporary folder.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { verifyWorkspaceChain } from '../api/audit/chain';
import { createPrismaAuditChainSource } from '../api/audit/prismaAuditChainSource';
import { createPrismaAuditLog } from '../api/audit/prismaAuditLog';
import type { AuditEventInput } from '../api/audit/ports';
import { createDatabase, type Database } from '../api/db/client';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../api/db/embeddedMariadb';
import { migrateDatabase } from '../api/db/migrate';
import { summarize, type BenchContext, type BenchResult, type Figure } from './stats';

const BENCH = 'audit';
const IN_FLIGHT = 8;

const event = (workspaceId: string, i: number): AuditEventInput => ({ workspaceId, actorUserId: randomUUID(), kind: 'api.request', outcome: 'success', detail: { method: 'GET', route: '/api/me', status: 200, i } });

async function workspace(db: Database): Promise<string> {
  const id = randomUUID();
  await db.workspace.create({ data: { id, name: 'bench', tenantId: randomUUID() } });
  return id;
}

/** Sequential latencies of `count` calls. */
async function sequential(count: number, call: (i: number) => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await call(i);
    times.push(performance.now() - started);
  }
  return times;
}

/** Calls per second with `IN_FLIGHT` workers taking the next index until `count` are done. */
async function throughput(count: number, call: (i: number, worker: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async (_, worker) => {
    for (let i = next++; i < count; i = next++) await call(i, worker);
  }));
  return count / ((performance.now() - started) / 1000);
}

export async function runAudit({ quick, log }: BenchContext): Promise<BenchResult> {
  const count = quick ? 300 : 2000;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-audit-'));
  fs.chmodSync(root, 0o755);
  let mariadb: EmbeddedMariadb | undefined;
  let db: Database | undefined;
  try {
    mariadb = await startEmbeddedMariadb({ dir: path.join(root, 'mariadb') });
    const url = await mariadb.createDatabase('kluis_bench_audit');
    await migrateDatabase(url);
    db = createDatabase(url, 10);
    const database = db;
    const audit = createPrismaAuditLog(database);

    // Warm both paths (connections, prepared statements) before measuring.
    const warm = await workspace(database);
    for (let i = 0; i < 30; i++) await audit.record(event(warm, i));
    let plainSeq = 1;
    const plain = async (workspaceId: string, i: number) => {
      const e = event(workspaceId, i);
      await database.auditEvent.create({ data: { id: randomUUID(), workspaceId, actorUserId: e.actorUserId ?? null, kind: e.kind, outcome: e.outcome, detail: e.detail, seq: plainSeq++ } });
    };
    const warmPlain = await workspace(database);
    await sequential(30, (i) => plain(warmPlain, i));

    const plainWs = await workspace(database);
    const plainTimes = summarize(await sequential(count, (i) => plain(plainWs, i)));
    const plainRate = await throughput(count, (i) => plain(plainWs, count + i));
    log(`  plain insert: p50 ${plainTimes.p50.toFixed(2)} ms, ${plainRate.toFixed(0)}/s with ${IN_FLIGHT} in flight`);

    const chainWs = await workspace(database);
    const chainTimes = summarize(await sequential(count, (i) => audit.record(event(chainWs, i))));
    const chainRateOne = await throughput(count, (i) => audit.record(event(chainWs, count + i)));
    const spread = await Promise.all(Array.from({ length: IN_FLIGHT }, () => workspace(database)));
    const chainRateSpread = await throughput(count, (i, worker) => audit.record(event(spread[worker]!, i)));
    log(`  chained append: p50 ${chainTimes.p50.toFixed(2)} ms, ${chainRateOne.toFixed(0)}/s on one workspace, ${chainRateSpread.toFixed(0)}/s over ${IN_FLIGHT} workspaces`);

    const source = createPrismaAuditChainSource(database);
    const started = performance.now();
    const verdict = await verifyWorkspaceChain(source, chainWs);
    const verifyRate = verdict.checked / ((performance.now() - started) / 1000);
    if (!verdict.ok || verdict.checked !== 2 * count) throw new Error(`chain not intact after the run: ${JSON.stringify(verdict)}`);
    log(`  verification: ${verdict.checked} events at ${verifyRate.toFixed(0)}/s`);

    const figures: Figure[] = [
      { benchmark: BENCH, metric: 'append p50, sequential', value: chainTimes.p50, unit: 'ms', baseline: { label: 'plain insert p50', value: plainTimes.p50 } },
      { benchmark: BENCH, metric: 'append p95, sequential', value: chainTimes.p95, unit: 'ms', baseline: { label: 'plain insert p95', value: plainTimes.p95 } },
      { benchmark: BENCH, metric: `appends/s, ${IN_FLIGHT} in flight, one workspace`, value: chainRateOne, unit: 'count', baseline: { label: 'plain inserts/s', value: plainRate } },
      { benchmark: BENCH, metric: `appends/s, ${IN_FLIGHT} in flight, ${IN_FLIGHT} workspaces`, value: chainRateSpread, unit: 'count', baseline: { label: 'plain inserts/s', value: plainRate } },
      { benchmark: BENCH, metric: 'verification, events/s', value: verifyRate, unit: 'count' },
    ];
    return {
      figures,
      notes: [
        `${BENCH}: ${count} events per scenario; a chained append is BEGIN, SELECT ... FOR UPDATE on the chain head, INSERT, UPDATE head, COMMIT in one interactive Prisma transaction, so appends to one workspace take turns while different workspaces proceed in parallel.`,
      ],
    };
  } finally {
    await db?.$disconnect().catch(() => undefined);
    await mariadb?.stop().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
