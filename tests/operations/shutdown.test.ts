/**
 * Graceful shutdown of a Kluis process on SIGTERM (what `docker compose stop` and a rolling update
 * send): a turn in flight streams to its end and is stored, the replica takes no new connection
 * meanwhile (the load balancer's next try goes to another replica), and the process exits with
 * code 0 well within SHUTDOWN_GRACE_SECONDS. The language model is OpenAI's wire format from a
 * local stand-in that writes slowly, so the turn is still running when the signal comes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { startFakeOpenAi } from '../fakes/openaiServer';
import { openTestDatabase, randomTenantId, testDatabaseUrl } from '../support/database';
import { DEMO_KNOWLEDGE } from '../support/kluis';
import { productionBasics, startKluisProcess, type KluisProcess } from '../support/kluisProcess';

const tenant = randomTenantId();
const db = openTestDatabase();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-shutdown-'));
const ANSWER = 'Hotels in London are reimbursed up to EUR 185 per night, breakfast included, when the trip was approved by your manager in advance [1].';
let issuer: FakeEntraIssuer;
let openai: Awaited<ReturnType<typeof startFakeOpenAi>>;
let kluis: KluisProcess;
const lines: string[] = [];

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  openai = await startFakeOpenAi({ apiKey: 'shutdown-test-key' });
  kluis = await startKluisProcess(
    {
      ...productionBasics(),
      DATABASE_URL: testDatabaseUrl(),
      DATA_DIR: dataDir,
      KNOWLEDGE_DIR: DEMO_KNOWLEDGE,
      KNOWLEDGE_TENANT_ID: tenant,
      ...issuer.kluisSettings(),
      ASSISTANT_PROVIDER: 'openai',
      OPENAI_API_KEY: 'shutdown-test-key',
      OPENAI_BASE_URL: openai.baseUrl,
      OPENAI_MODEL: 'gpt-test',
      SHUTDOWN_GRACE_SECONDS: '15',
    },
    { readyTimeoutMs: 55_000, onLine: (line) => lines.push(line) },
  );
}, 60_000);

afterAll(async () => {
  await kluis?.stop(5_000);
  await openai?.close();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: tenant } });
  await db.$disconnect();
  fs.rmSync(dataDir, { recursive: true, force: true });
}, 30_000);

it('finishes the turn in flight, takes no new connection meanwhile, and exits 0', async () => {
  // About 25 words at 120 ms each: three seconds of streaming.
  openai.enqueue({ kind: 'completion', content: ANSWER, chunkDelayMs: 120 });
  const bearer = await issuer.bearerFor(tenant, randomUUID());
  const response = await fetch(`${kluis.url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify({ message: 'What is the maximum hotel rate per night in London on a business trip?', channel: 'tab' }),
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let body = '';
  while (!body.includes('event: delta')) {
    const { value, done } = await reader.read();
    if (done) break;
    body += decoder.decode(value, { stream: true });
  }
  expect(body).toContain('event: delta');
  expect(body).not.toContain('event: done');

  // SIGTERM while the answer streams.
  const stopped = kluis.stop(30_000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  // A new connection is refused while the turn finishes.
  await expect(fetch(`${kluis.url}/readyz`, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();

  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    body += decoder.decode(value, { stream: true });
  }
  expect(body).toContain('event: done');
  expect(body).not.toContain('event: error');
  const done = JSON.parse(/event: done\ndata: (.*)\n/.exec(body)![1]!) as { text: string; conversationId: string };
  expect(done.text).toContain('EUR 185 per night');

  await stopped;
  expect(kluis.exitStatus()).toBe('exited with code 0');
  // Stored before the process went: the question and its whole answer.
  const workspace = await db.workspace.findFirstOrThrow({ where: { tenantId: tenant } });
  const answers = await db.message.findMany({ where: { workspaceId: workspace.id, role: 'assistant' } });
  expect(answers.map((m) => m.text)).toEqual([expect.stringContaining('EUR 185 per night')]);
  expect(lines.some((l) => l.includes('requests still running after the shutdown grace period were cut off'))).toBe(false);
}, 60_000);
