/**
 * Traces of a real turn: a Teams message through a running Kluis (real HTTP, the real answer
 * pipeline, the real index) recorded by an in-memory exporter. One turn is one trace, with the
 * answer pipeline under the turn and retrieval and the provider call under the answer; and no span
 * carries the question, the answer, the document's title or the asker's name.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { errorCatalogue } from '../../api/errors';
import { createOtelTracing, type OtelTracing } from '../../api/operations/otelTracing';
import { installTracing, NO_TRACING, tracing } from '../../api/operations/tracing';
import { startFakeConnector } from '../fakes/botConnector';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

// Canary words: in the question, in the document's title and text, and so in the answer that quotes it.
const CANARY = 'Quuxifrangible';
const TITLE_CANARY = 'Zorblatt';
const QUESTION = `What is the ${CANARY} reimbursement for a zeppelin journey?`;
const USER_NAME = 'Megan Bowen';
const tenant = randomUUID();
/** The workspace of the instance whose language model is down (its own data keys). */
const failingTenant = randomUUID();
const db = openTestDatabase();
const knowledgeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-trace-knowledge-'));
fs.writeFileSync(
  path.join(knowledgeDir, `${TITLE_CANARY.toLowerCase()}-expenses.md`),
  `# ${TITLE_CANARY} expense rules\n\nThe ${CANARY} reimbursement for a zeppelin journey is 42 euro per flight hour, approved by the finance desk.\n`,
);

let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let connector: Awaited<ReturnType<typeof startFakeConnector>>;
let issuer: FakeEntraIssuer;
let exporter: InMemorySpanExporter;
let tracer: OtelTracing;
let uninstall: () => void;

const settings = { exporter: 'console' as const, endpoint: 'http://127.0.0.1:4318', serviceName: 'kluis', environment: 'test', sampleRatio: 1 };

function activity(text: string, conversationType: string, tenantId: string) {
  const oid = randomUUID();
  return {
    type: 'message',
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl: connector.serviceUrl,
    text,
    from: { id: `29:${randomUUID()}`, name: USER_NAME, aadObjectId: oid },
    recipient: { id: 'bot-id', name: 'Kluis' },
    conversation: { id: `a:${oid}`, conversationType, tenantId },
    channelData: { tenant: { id: tenantId } },
  };
}

async function sendTurn(base: string, text: string, conversationType = 'personal', tenantId = tenant, headers: Record<string, string> = {}) {
  const r = await fetch(`${base}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(activity(text, conversationType, tenantId)) });
  expect(r.status).toBe(200);
}

/** One POST /api/chat from the tab; resolves with the SSE text once the answer is complete. */
async function chat(headers: Record<string, string> = {}): Promise<string> {
  const bearer = await issuer.bearerFor(tenant, randomUUID());
  const r = await fetch(`${kluis.url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, ...headers },
    body: JSON.stringify({ message: QUESTION, channel: 'tab', conversationId: randomUUID() }),
  });
  expect(r.status).toBe(200);
  return r.text();
}

/** The spans of the one trace whose root is a bot.turn started after `since` spans. */
async function lastTurn(since: number): Promise<ReadableSpan[]> {
  await tracer.flush();
  const spans = exporter.getFinishedSpans().slice(since);
  const roots = spans.filter((s) => s.name === 'bot.turn');
  expect(roots).toHaveLength(1);
  return spans.filter((s) => s.spanContext().traceId === roots[0]!.spanContext().traceId);
}

const one = (spans: ReadableSpan[], name: string) => {
  const found = spans.filter((s) => s.name === name);
  expect([name, found.length]).toEqual([name, 1]);
  return found[0]!;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** Every string a span would send: its name, attributes, status, events, links and resource. */
function everyValue(span: ReadableSpan): string {
  return JSON.stringify([span.name, span.attributes, span.status, span.events, span.links, span.resource.attributes]);
}

beforeAll(async () => {
  connector = await startFakeConnector();
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({ LOCAL_TENANT_ID: randomUUID(), ONBOARD_TENANTS: `${tenant}=Contoso Traces`, KNOWLEDGE_DIR: knowledgeDir, KNOWLEDGE_TENANT_ID: tenant, ...issuer.kluisSettings() });
  // The default configuration installs nothing.
  expect(tracing()).toBe(NO_TRACING);
  exporter = new InMemorySpanExporter();
  tracer = createOtelTracing(settings, { exporter });
  uninstall = installTracing(tracer);
}, 60000);

afterAll(async () => {
  uninstall?.();
  await tracer?.shutdown();
  await kluis?.stop();
  await connector?.close();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenant, failingTenant] } } });
  await db.$disconnect();
  fs.rmSync(knowledgeDir, { recursive: true, force: true });
});

describe('traces of a Teams turn', () => {
  it('makes one trace: bot.turn -> assistant.answer -> knowledge.search and provider.chat, with counts', async () => {
    const since = exporter.getFinishedSpans().length;
    await sendTurn(kluis.url, QUESTION);
    const replies = await connector.waitForMessages(1);
    // The turn really answered from the document (so the canary reached the answer).
    expect(JSON.stringify(replies.map((r) => r.activity))).toContain(CANARY);

    const spans = await lastTurn(since);
    const turn = one(spans, 'bot.turn');
    const answer = one(spans, 'assistant.answer');
    const search = one(spans, 'knowledge.search');
    const call = one(spans, 'provider.chat');
    expect(parentOf(turn)).toBeUndefined();
    expect(parentOf(answer)).toBe(turn.spanContext().spanId);
    expect(parentOf(search)).toBe(answer.spanContext().spanId);
    expect(parentOf(call)).toBe(answer.spanContext().spanId);
    // Retrieval ends before the provider is called.
    expect(search.endTime[0] * 1e9 + search.endTime[1]).toBeLessThanOrEqual(call.startTime[0] * 1e9 + call.startTime[1]);

    const workspace = await db.workspace.findFirstOrThrow({ where: { tenantId: tenant } });
    expect(turn.attributes).toMatchObject({ 'kluis.channel': 'teams', 'kluis.conversation.type': 'personal', 'kluis.workspace.id': workspace.id, 'kluis.streamed': true });
    expect(answer.attributes).toMatchObject({ 'kluis.channel': 'teams', 'kluis.task': 'answer', 'kluis.workspace.id': workspace.id, 'kluis.answer.nothing_found': false });
    expect(answer.attributes['kluis.answer.citations']).toBeGreaterThanOrEqual(1);
    expect(search.attributes).toMatchObject({ 'kluis.workspace.id': workspace.id, 'kluis.search.live_check': false });
    expect(search.attributes['kluis.search.hits']).toBeGreaterThanOrEqual(1);
    expect(search.attributes['kluis.search.candidates']).toBeGreaterThanOrEqual(search.attributes['kluis.search.hits'] as number);
    expect(call.attributes).toMatchObject({ 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'extractive', 'kluis.provider.outcome': 'success', 'kluis.streamed': true });
    for (const span of spans) expect([span.name, span.status.code]).toEqual([span.name, 0]);
    expect(turn.resource.attributes).toMatchObject({ 'service.name': 'kluis', 'deployment.environment.name': 'test' });
  });

  it('puts no question, answer, document title or user name on any span', async () => {
    const since = exporter.getFinishedSpans().length;
    const before = connector.messages().length;
    // A group chat: the answer comes whole, as a card naming its source.
    await sendTurn(kluis.url, QUESTION, 'groupChat');
    const reply = (await connector.waitForMessages(before + 1)).at(-1)!;
    expect(JSON.stringify(reply.activity)).toContain(TITLE_CANARY);
    expect(JSON.stringify(reply.activity)).toContain(CANARY);

    const spans = await lastTurn(since);
    expect(spans.map((s) => s.name).sort()).toEqual(['assistant.answer', 'bot.turn', 'knowledge.search', 'provider.chat']);
    for (const span of spans) {
      const values = everyValue(span);
      for (const secret of [CANARY, CANARY.toLowerCase(), TITLE_CANARY, TITLE_CANARY.toLowerCase(), 'zeppelin', USER_NAME, 'Contoso']) expect([span.name, values.includes(secret)]).toEqual([span.name, false]);
    }
  });

  it("with the asker's own access, traces the live check under retrieval with the number of passages kept", async () => {
    const since = exporter.getFinishedSpans().length;
    const principal = await kluis.modules.principals.resolve({ tenantId: tenant, entraObjectId: randomUUID(), displayName: USER_NAME, authMethod: 'entra-token' });
    // Folder passages need no check (liveCheck.ts); the source is never asked, the step is still traced.
    const access = { canOpen: async (refs: readonly string[]) => new Map(refs.map((ref) => [ref, true as const])) };
    const answer = await kluis.modules.assistant.answer(principal, QUESTION, { channel: 'tab', conversationExternalId: randomUUID(), access });
    expect(answer.citations.length).toBeGreaterThanOrEqual(1);
    await tracer.flush();
    const spans = exporter.getFinishedSpans().slice(since);
    const search = one(spans, 'knowledge.search');
    const check = one(spans, 'knowledge.live_check');
    expect(parentOf(check)).toBe(search.spanContext().spanId);
    expect(search.attributes['kluis.search.live_check']).toBe(true);
    expect(check.attributes['kluis.live_check.kept']).toBe(search.attributes['kluis.search.hits']);
    expect(check.attributes['kluis.live_check.kept']).toBeGreaterThanOrEqual(1);
  });

  it('marks the provider call and the turn ERROR with the catalogue id when the provider is down, and says nothing more', async () => {
    // A language model whose address refuses connections: a real network failure.
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const failing = await startTestKluis({
      LOCAL_TENANT_ID: randomUUID(),
      ONBOARD_TENANTS: `${failingTenant}=Contoso Traces`,
      KNOWLEDGE_DIR: knowledgeDir,
      KNOWLEDGE_TENANT_ID: failingTenant,
      OPENAI_API_KEY: 'not-a-key',
      OPENAI_BASE_URL: `http://127.0.0.1:${deadPort}/v1`,
      OPENAI_MAX_RETRIES: '0',
      OPENAI_TIMEOUT_MS: '2000',
    });
    try {
      const since = exporter.getFinishedSpans().length;
      const before = connector.messages().length;
      await sendTurn(failing.url, QUESTION, 'groupChat', failingTenant);
      await connector.waitForMessages(before + 1);
      const spans = await lastTurn(since);
      const call = one(spans, 'provider.chat');
      const errorType = call.attributes['error.type'] as string;
      expect(Object.keys(errorCatalogue)).toContain(errorType);
      expect(errorType).toMatch(/^provider_/);
      expect(call.status).toEqual({ code: 2, message: errorType });
      expect(call.attributes['kluis.provider.outcome']).toBe('failure');
      for (const name of ['assistant.answer', 'bot.turn']) expect(one(spans, name).attributes['error.type']).toBe(errorType);
      expect(one(spans, 'bot.turn').status.code).toBe(2);
      // The retrieval step itself succeeded.
      expect(one(spans, 'knowledge.search').status.code).toBe(0);
      // Exceptions are not recorded as events (their messages may quote a reply or a file).
      for (const span of spans) expect([span.name, span.events]).toEqual([span.name, []]);
    } finally {
      await failing.stop();
    }
  });
});

describe("continuing a caller's trace (W3C traceparent)", () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const parentId = 'b7ad6b7169203331';
  const traceparent = `00-${traceId}-${parentId}-01`;

  /** The one span named `root` among the spans finished after `since`, and the spans of its trace. */
  async function turnSince(since: number, root: 'chat.turn' | 'bot.turn') {
    await tracer.flush();
    const spans = exporter.getFinishedSpans().slice(since);
    const turn = one(spans, root);
    return { turn, trace: spans.filter((s) => s.spanContext().traceId === turn.spanContext().traceId) };
  }

  it("puts a chat turn in the caller's trace, under the caller's span", async () => {
    const since = exporter.getFinishedSpans().length;
    expect(await chat({ traceparent })).toContain('event: done');
    const { turn, trace } = await turnSince(since, 'chat.turn');
    expect(turn.spanContext().traceId).toBe(traceId);
    expect(turn.parentSpanContext).toMatchObject({ traceId, spanId: parentId, isRemote: true });
    expect(parentOf(one(trace, 'assistant.answer'))).toBe(turn.spanContext().spanId);
  });

  it("puts a Teams turn in the caller's trace, under the caller's span", async () => {
    const since = exporter.getFinishedSpans().length;
    const before = connector.messages().length;
    await sendTurn(kluis.url, QUESTION, 'groupChat', tenant, { traceparent });
    await connector.waitForMessages(before + 1);
    const { turn, trace } = await turnSince(since, 'bot.turn');
    expect(turn.spanContext().traceId).toBe(traceId);
    expect(parentOf(turn)).toBe(parentId);
    expect(parentOf(one(trace, 'assistant.answer'))).toBe(turn.spanContext().spanId);
  });

  it.each([
    ['oversized', `01-${traceId}-${parentId}-01-${'a'.repeat(4_000)}`],
    ['version ff', `ff-${traceId}-${parentId}-01`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${parentId}-01`],
    ['an all-zero parent id', `00-${traceId}-${'0'.repeat(16)}-01`],
    ['not a traceparent at all', "'; DROP TABLE Workspace; --"],
  ])('starts a fresh trace for a traceparent that is %s, and answers all the same', async (_what, hostile) => {
    const since = exporter.getFinishedSpans().length;
    expect(await chat({ traceparent: hostile })).toContain('event: done');
    const { turn, trace } = await turnSince(since, 'chat.turn');
    expect(parentOf(turn)).toBeUndefined();
    expect(turn.spanContext().traceId).not.toBe(traceId);
    expect(turn.spanContext().traceId).not.toBe('0'.repeat(32));
    expect(parentOf(one(trace, 'assistant.answer'))).toBe(turn.spanContext().spanId);
  });

  it('starts a fresh trace for a Teams turn whose traceparent is malformed, and answers all the same', async () => {
    const since = exporter.getFinishedSpans().length;
    const before = connector.messages().length;
    await sendTurn(kluis.url, QUESTION, 'groupChat', tenant, { traceparent: `00-${traceId}-${parentId}-01-extra` });
    await connector.waitForMessages(before + 1);
    const { turn } = await turnSince(since, 'bot.turn');
    expect(parentOf(turn)).toBeUndefined();
    expect(turn.spanContext().traceId).not.toBe(traceId);
  });
});
