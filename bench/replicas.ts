/**
 * Capacity: how many chat turns per second one Kluis process and two Kluis processes behind the
 * same stores answer while the 95th percentile of a whole answer stays under one second.
 *
 * Each replica is the production start (api/serve.ts) in a process of its own, answering with
 * the extractive provider (no language-model key) from the demo documents; the load comes over
 * loopback HTTP from autocannon in this process (tests/support/loadChat.ts): each connection is
 * one conversation of its own user, every request its next turn (POST /api/chat, the
 * Server-Sent Events answer read to its end and checked to be complete). The concurrency doubles
 * (1, 2, 4, ... 64; --quick: up to 16 with shorter steps) until p95 reaches one second; the
 * capacity is the turns per second of the highest step that stayed under it. With two replicas the
 * connections alternate between them.
 *
 * The stores: one private MariaDB both replicas use, one encrypted blob folder, and one LanceDB
 * folder. LanceDB has no coordination between processes (each keeps its own write queue, and a
 * writer's compaction removes table versions another process may still be reading, which never
 * looks for newer versions), so only the first replica indexes the demo documents (it alone has
 * KNOWLEDGE_DIR); the second opens the folder once that index is written and compacted, and from
 * then on both only read it. The two-replica figure therefore covers answering (the whole answer
 * path, MariaDB writes included) over a read-only shared index; replicas that also index need a
 * shared index server (SEARCH_INDEX=qdrant).
 *
 * Memory: VmRSS of each Kluis process, idle (ready, before any turn) and at the end of its load.
 * Nothing is asserted; on a shared 2-core machine the load generator competes with the replicas.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../api/db/embeddedMariadb';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../tests/fakes/entraIssuer';
import { completeAnswerOf, LOAD_QUESTIONS, runChatLoad, type ChatLoadResult, type LoadConversation } from '../tests/support/loadChat';
import { productionBasics, startKluisProcess, type KluisProcess } from '../tests/support/kluisProcess';
import { DEMO_KNOWLEDGE_DIR } from './corpus';
import { type BenchContext, type BenchResult, type Figure } from './stats';

const BENCH = 'replicas';
const P95_LIMIT_MS = 1000;

interface Step {
  concurrency: number;
  result: ChatLoadResult;
}

interface Sweep {
  steps: Step[];
  /** The highest step whose p95 stayed under the limit without a failed turn. */
  best?: Step;
}

/** Each user asks one question against `url`, a few at a time: tokens cached, users created, code warm. */
async function warmUp(url: string, users: LoadConversation[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < users.length; i = next++) {
      const response = await fetch(`${url}/api/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${users[i]!.bearer}` },
        body: JSON.stringify({ message: LOAD_QUESTIONS[i % LOAD_QUESTIONS.length], channel: 'tab', conversationId: randomUUID() }),
      });
      const body = await response.text();
      if (response.status !== 200 || !completeAnswerOf(body)) throw new Error(`warm-up turn against ${url} failed: ${response.status} ${body.slice(0, 300)}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

function failedTurns(r: ChatLoadResult): number {
  return r.errors + r.non2xx + r.incompleteAnswers;
}

async function sweep(urls: string[], users: LoadConversation[], levels: number[], stepSeconds: number, log: (line: string) => void, label: string): Promise<Sweep> {
  const steps: Step[] = [];
  for (const concurrency of levels) {
    // Fresh conversations per step, so every step starts from the same history length.
    const conversations = users.slice(0, concurrency).map((u) => ({ bearer: u.bearer, conversationId: randomUUID() }));
    const result = await runChatLoad({ urls, conversations, durationSeconds: stepSeconds, timeoutSeconds: 30 });
    const l = result.latencyMs;
    log(
      `  ${label}, ${String(concurrency).padStart(2)} conversations: ${result.turnsPerSecond.toFixed(1).padStart(5)} turns/s, p50 ${l.p50.toFixed(0).padStart(5)} ms, p95 ${l.p95.toFixed(0).padStart(5)} ms, p99 ${l.p99.toFixed(0).padStart(5)} ms` +
        ` (${result.turns} turns; errors ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}, incomplete ${result.incompleteAnswers})`,
    );
    steps.push({ concurrency, result });
    if (!(l.p95 < P95_LIMIT_MS) || failedTurns(result) > 0) break;
  }
  const best = [...steps].reverse().find((s) => s.result.latencyMs.p95 < P95_LIMIT_MS && failedTurns(s.result) === 0);
  return { steps, best };
}

export async function runReplicas({ quick, log }: BenchContext): Promise<BenchResult> {
  const levels = quick ? [1, 2, 4, 8, 16] : [1, 2, 4, 8, 16, 32, 64];
  const stepSeconds = quick ? 4 : 10;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `kluis-bench-${BENCH}-`));
  // mariadbd runs as the mysql user when we are root, and must be able to enter the folder.
  fs.chmodSync(root, 0o755);
  let mariadb: EmbeddedMariadb | undefined;
  let issuer: FakeEntraIssuer | undefined;
  const replicas: KluisProcess[] = [];
  try {
    mariadb = await startEmbeddedMariadb({ dir: path.join(root, 'mariadb') });
    const databaseUrl = await mariadb.createDatabase('kluis_bench_replicas');
    issuer = await startFakeEntraIssuer();
    const tenant = randomUUID();
    const shared = {
      ...productionBasics(),
      // The load measures answering, not the turn limits (a user here asks far more than 30 a minute).
      TURNS_PER_USER_PER_MINUTE: '0',
      TURNS_PER_WORKSPACE_PER_MINUTE: '0',
      DATABASE_URL: databaseUrl,
      INDEX_DIR: path.join(root, 'index'),
      BLOB_DIR: path.join(root, 'blobs'),
      ...issuer.kluisSettings(),
    };
    const userCount = Math.max(...levels);
    const users: LoadConversation[] = [];
    for (let i = 0; i < userCount; i++) {
      users.push({ bearer: await issuer.bearerFor(tenant, randomUUID()), conversationId: randomUUID() });
    }

    // Replica 1 owns the knowledge folder: it migrates the database and indexes the demo documents.
    const first = await startKluisProcess({ ...shared, DATA_DIR: path.join(root, 'replica-1'), KNOWLEDGE_DIR: DEMO_KNOWLEDGE_DIR, KNOWLEDGE_TENANT_ID: tenant });
    replicas.push(first);
    const idle1 = first.rssMb();
    log(`  replica 1 ready (pid ${first.pid}), idle RSS ${idle1.toFixed(0)} MB; warming up with one turn per user (${userCount} users)`);
    await warmUp(first.url, users);
    const one = await sweep([first.url], users, levels, stepSeconds, log, '1 replica ');
    const end1 = first.rssMb();

    // The index was written and compacted during replica 1's start; from here on nothing writes it.
    const second = await startKluisProcess({ ...shared, DATA_DIR: path.join(root, 'replica-2') });
    replicas.push(second);
    const idle2 = second.rssMb();
    log(`  replica 2 ready (pid ${second.pid}), idle RSS ${idle2.toFixed(0)} MB; replica 1 at ${first.rssMb().toFixed(0)} MB`);
    await warmUp(second.url, users);
    const two = await sweep([first.url, second.url], users, levels, stepSeconds, log, '2 replicas');
    const end2a = first.rssMb();
    const end2b = second.rssMb();
    const errorLines = replicas.flatMap((r, i) => r.errorLines().map((line) => `replica ${i + 1}: ${line.slice(0, 300)}`));

    const turns1 = one.best?.result.turnsPerSecond ?? Number.NaN;
    const turns2 = two.best?.result.turnsPerSecond ?? Number.NaN;
    log(
      `  capacity at p95 < ${P95_LIMIT_MS} ms: 1 replica ${turns1.toFixed(1)} turns/s (${one.best?.concurrency ?? 'no'} conversations, p95 ${one.best?.result.latencyMs.p95.toFixed(0) ?? '-'} ms); ` +
        `2 replicas ${turns2.toFixed(1)} turns/s (${two.best?.concurrency ?? 'no'} conversations, p95 ${two.best?.result.latencyMs.p95.toFixed(0) ?? '-'} ms); ratio ${(turns2 / turns1).toFixed(2)}x`,
    );
    log(`  RSS: replica 1 idle ${idle1.toFixed(0)} MB, after 1-replica load ${end1.toFixed(0)} MB, after 2-replica load ${end2a.toFixed(0)} MB; replica 2 idle ${idle2.toFixed(0)} MB, after load ${end2b.toFixed(0)} MB`);
    for (const line of errorLines.slice(0, 5)) log(`  logged error: ${line}`);

    const figures: Figure[] = [
      { benchmark: BENCH, metric: `turns/s at p95 < 1 s, 1 replica`, value: turns1, unit: 'turns/s', note: `${one.best?.concurrency ?? 'no'} concurrent conversations, p95 ${one.best?.result.latencyMs.p95.toFixed(0) ?? '-'} ms` },
      { benchmark: BENCH, metric: `turns/s at p95 < 1 s, 2 replicas`, value: turns2, unit: 'turns/s', baseline: { label: '1 replica', value: turns1 }, note: `${two.best?.concurrency ?? 'no'} concurrent conversations, p95 ${two.best?.result.latencyMs.p95.toFixed(0) ?? '-'} ms` },
      { benchmark: BENCH, metric: 'conversations at p95 < 1 s, 2 replicas', value: two.best?.concurrency ?? Number.NaN, unit: 'count', baseline: { label: '1 replica', value: one.best?.concurrency ?? Number.NaN } },
      { benchmark: BENCH, metric: 'RSS per replica at the end of load, 1 replica', value: end1, unit: 'MB', baseline: { label: 'idle', value: idle1 } },
      { benchmark: BENCH, metric: 'RSS of replica 2 at the end of load, 2 replicas', value: end2b, unit: 'MB', baseline: { label: 'idle', value: idle2 } },
      { benchmark: BENCH, metric: 'RSS of replica 1 at the end of load, 2 replicas', value: end2a, unit: 'MB', baseline: { label: 'idle', value: idle1 } },
    ];
    const failed = [...one.steps, ...two.steps].filter((s) => failedTurns(s.result) > 0);
    return {
      figures,
      notes: [
        `replicas: extractive provider, demo documents, concurrency ${levels.join(', ')} with ${stepSeconds} s per step until p95 >= ${P95_LIMIT_MS} ms, load from autocannon in the benchmark process on the same ${os.cpus().length} cores; two replicas share one MariaDB, one blob folder and one LanceDB folder that only replica 1 wrote (before replica 2 started), so the 2-replica figure covers answering over a read-only shared index.`,
        ...(failed.length ? [`replicas: failed turns at ${failed.map((s) => `${s.concurrency} conversations (errors ${s.result.errors}, non-2xx ${s.result.non2xx}, incomplete ${s.result.incompleteAnswers})`).join('; ')}.`] : []),
        ...(errorLines.length ? [`replicas: the replicas logged ${errorLines.length} lines at error level; first: ${errorLines[0]}`] : []),
      ],
    };
  } finally {
    for (const replica of replicas.reverse()) await replica.stop().catch(() => undefined);
    await issuer?.close().catch(() => undefined);
    await mariadb?.stop().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
