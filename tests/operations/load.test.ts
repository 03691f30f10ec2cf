/**
 * Load: Kluis in a process of its own (the production start, api/serve.ts), answering with the
 * extractive provider (no language-model key) from the demo documents, takes 50 conversations of
 * 50 users at once for 60 seconds over loopback HTTP: every request is the next turn of one of
 * them (POST /api/chat with the user's Entra bearer token, a Server-Sent Events answer read to
 * its end).
 *
 * Asserted: no connection error, no timeout, no non-2xx status, every response a complete
 * answer (statuses, deltas, one done the deltas add up to), nothing logged at error level by
 * Kluis, and the turns stored as 50 conversations of 50 users. Latency percentiles and memory are
 * printed and written to .data/load-<date>.json, never asserted (timing belongs to bench/).
 *
 * Bounded: loopback only; start (60 s), load (68 s) and clean-up (20 s) stay within 2.5 minutes.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase, randomTenantId, testDatabaseUrl } from '../support/database';
import { DEMO_KNOWLEDGE } from '../support/kluis';
import { completeAnswerOf, LOAD_QUESTIONS, runChatLoad, type ChatLoadResult, type LoadConversation } from '../support/loadChat';
import { productionBasics, REPO_ROOT, startKluisProcess, type KluisProcess } from '../support/kluisProcess';

const CONVERSATIONS = 50;
const DURATION_SECONDS = 60;

const tenant = randomTenantId();
const db = openTestDatabase();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-load-'));
let issuer: FakeEntraIssuer;
let kluis: KluisProcess;

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  kluis = await startKluisProcess({
    ...productionBasics(),
    // The load measures answering, not the turn limits (a user here asks far more than 30 a minute).
    TURNS_PER_USER_PER_MINUTE: '0',
    TURNS_PER_WORKSPACE_PER_MINUTE: '0',
    DATABASE_URL: testDatabaseUrl(),
    DATA_DIR: dataDir,
    KNOWLEDGE_DIR: DEMO_KNOWLEDGE,
    KNOWLEDGE_TENANT_ID: tenant,
    ...issuer.kluisSettings(),
  }, { readyTimeoutMs: 55_000 });
}, 60_000);

afterAll(async () => {
  await kluis?.stop(10_000);
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: tenant } });
  await db.$disconnect();
  fs.rmSync(dataDir, { recursive: true, force: true });
}, 20_000);

function report(result: ChatLoadResult, memory: { idleMb: number; endMb: number }): string {
  const l = result.latencyMs;
  return [
    `load: ${result.connections} conversations for ${result.durationSeconds.toFixed(1)} s against one Kluis process (extractive provider, demo documents), ${os.cpus().length} cores`,
    `  turns ${result.turns} (${result.turnsPerSecond.toFixed(1)}/s), complete answers ${result.completeAnswers}, incomplete ${result.incompleteAnswers}, non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`,
    `  latency ms: p50 ${l.p50.toFixed(0)}, p90 ${l.p90.toFixed(0)}, p95 ${l.p95.toFixed(0)}, p99 ${l.p99.toFixed(0)}, max ${l.max.toFixed(0)}, mean ${l.mean.toFixed(0)}`,
    `  Kluis RSS: idle ${memory.idleMb.toFixed(0)} MB, at the end of the load ${memory.endMb.toFixed(0)} MB`,
    ...result.incompleteSamples.map((body) => `  not a complete answer: ${body}`),
    ...kluis.errorLines().slice(0, 5).map((line) => `  Kluis logged: ${line.slice(0, 1000)}`),
  ].join('\n');
}

describe('Kluis under load', () => {
  it(`answers ${CONVERSATIONS} concurrent conversations for ${DURATION_SECONDS} s without an error`, async () => {
    const conversations: LoadConversation[] = await Promise.all(
      Array.from({ length: CONVERSATIONS }, async () => ({
        bearer: await issuer.bearerFor(tenant, randomUUID()),
        conversationId: randomUUID(),
      })),
    );
    // One turn first, so the signing keys are fetched and the code is warm before the clock starts.
    const warm = await fetch(`${kluis.url}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${conversations[0]!.bearer}` },
      body: JSON.stringify({ message: LOAD_QUESTIONS[0], channel: 'tab', conversationId: randomUUID() }),
    });
    expect(completeAnswerOf(await warm.text())).toBeDefined();
    const idleMb = kluis.rssMb();
    const result = await runChatLoad({ urls: [kluis.url], conversations, durationSeconds: DURATION_SECONDS, timeoutSeconds: 30 });
    const endMb = kluis.rssMb();

    console.log(report(result, { idleMb, endMb }));
    const outDir = path.join(REPO_ROOT, '.data');
    fs.mkdirSync(outDir, { recursive: true });
    const file = path.join(outDir, `load-${new Date().toISOString().slice(0, 10)}.json`);
    fs.writeFileSync(
      file,
      `${JSON.stringify({ measuredAt: new Date().toISOString(), machine: { cores: os.cpus().length, node: process.version }, provider: 'extractive', knowledge: 'demo/knowledge', ...result, memory: { idleRssMb: idleMb, endRssMb: endMb } }, null, 2)}\n`,
    );
    console.log(`load: figures written to ${path.relative(REPO_ROOT, file)}`);

    expect({ errors: result.errors, timeouts: result.timeouts, non2xx: result.non2xx, statusCounts: result.statusCounts }).toEqual({ errors: 0, timeouts: 0, non2xx: 0, statusCounts: { '200': result.turns } });
    expect(result.incompleteSamples).toEqual([]);
    expect(result.incompleteAnswers).toBe(0);
    // Enough turns that every conversation took part more than once.
    expect(result.turns).toBeGreaterThan(CONVERSATIONS);
    expect(result.completeAnswers).toBe(result.turns);
    expect(result.conversationsAnswered).toBe(CONVERSATIONS);
    expect(kluis.errorLines()).toEqual([]);

    // Each connection was one conversation of its own user; the answers in flight when the load
    // stopped may still have been stored, so at least every counted turn is.
    const workspace = await db.workspace.findFirstOrThrow({ where: { tenantId: tenant } });
    const stored = await db.conversation.findMany({ where: { workspaceId: workspace.id, channel: 'tab' }, select: { userId: true } });
    // The warm-up turn is a conversation of its own, of the first user.
    expect(stored).toHaveLength(CONVERSATIONS + 1);
    expect(new Set(stored.map((c) => c.userId)).size).toBe(CONVERSATIONS);
    const assistantMessages = await db.message.count({ where: { workspaceId: workspace.id, role: 'assistant' } });
    expect(assistantMessages).toBeGreaterThanOrEqual(result.turns + 1);
    expect(assistantMessages).toBeLessThanOrEqual(result.turns + 1 + CONVERSATIONS);
  }, 68_000);
});
