/**
 * The answer pipeline's own share, with the language model taken out.
 *
 * (a) Time to the first streamed chunk: assistant.answer drives an in-process streaming provider
 *     that yields its whole answer at once, in word-sized deltas. Measured: from the call to the
 *     first onText, minus the provider's own time to its first delta. What remains is Kluis's part:
 *     settings and history reads, storing the question, retrieval on the embedded index (LanceDB)
 *     over the demo documents, the prompt, the workspace's router (its routing policy from
 *     MariaDB, cached), metering and the stream guard. Baseline: the same provider called
 *     directly with the same request, to its first delta.
 * (b) Prompt tokens per question: what Kluis's prompt builder sends (api/assistant/prompt.ts)
 *     against a naive prompt that sends everything retrieved (the full text of all top-K hits and
 *     the whole conversation history). Both use the same estimate: characters / 4, the usual rule
 *     of thumb for English and Dutch with BPE tokenisers.
 *
 * The pipeline is assembled here from Kluis's own modules and adapters over the database and
 * index of a Kluis started in-process, because the composition root takes no provider from
 * outside and a remote provider (even a local fake server) would put HTTP into the measurement.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAssistant } from '../api/assistant/assistant';
import type { ChatDelta, ChatMessage, ChatProvider, ChatRequest, ChatResult } from '../api/assistant/ports';
import { createPrismaConversationStore } from '../api/assistant/prismaConversationStore';
import { createPrismaRoutingPolicyStore } from '../api/assistant/prismaRoutingPolicyStore';
import { BASE_SYSTEM_PROMPT } from '../api/assistant/prompt';
import { catalogueOf, createWorkspaceRouting } from '../api/assistant/routing';
import { createRoutingPolicies } from '../api/assistant/routingPolicy';
import { createAssistantSettings } from '../api/assistant/settings';
import { createPrismaAssistantSettingsStore } from '../api/assistant/prismaAssistantSettingsStore';
import { createPrismaAuditLog } from '../api/audit/prismaAuditLog';
import { loadConfig } from '../api/config';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../api/db/embeddedMariadb';
import { migrateDatabase } from '../api/db/migrate';
import { createKnowledge } from '../api/knowledge/knowledge';
import { createReaderResolver } from '../api/knowledge/sharepoint/readers';
import { createLogger } from '../api/logger';
import { startKluis, type Kluis } from '../api/main';
import { QUESTIONS, REPO_ROOT } from './corpus';
import { summarize, type BenchContext, type BenchResult } from './stats';

const ANSWER = 'According to the policy the answer is in the cited passage, which states the amount and who approves it [1].';

/** Token estimate used for both prompts: characters / 4. */
const tokens = (messages: Array<Pick<ChatMessage, 'content'>>) => Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4);

/** A provider that answers at once; it notes when each stream started and when its first delta left. */
function instantProvider() {
  const timing = { started: 0, firstDelta: 0 };
  const requests: ChatRequest[] = [];
  const result = (request: ChatRequest): ChatResult => ({ text: ANSWER, provider: 'openai', model: 'bench-instant', usedPassages: request.passages.slice(0, 1).map((p) => p.number), usage: { inputTokens: tokens(request.messages), outputTokens: 30 } });
  const provider: ChatProvider = {
    name: 'openai',
    async complete(request) {
      requests.push(request);
      return result(request);
    },
    async *stream(request): AsyncIterable<ChatDelta> {
      timing.started = performance.now();
      requests.push(request);
      let first = true;
      for (const word of ANSWER.split(/(?<= )/)) {
        if (first) {
          timing.firstDelta = performance.now();
          first = false;
        }
        yield { type: 'text', text: word };
      }
      yield { type: 'done', result: result(request) };
    },
  };
  return { provider, timing, requests };
}

export async function runAssistant(context: BenchContext): Promise<BenchResult> {
  const questions = context.quick ? 60 : 240;
  const warmup = context.quick ? 6 : 24;
  const log = context.log;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-assistant-'));
  fs.chmodSync(root, 0o755);
  const tenantId = randomUUID();
  let mariadb: EmbeddedMariadb | undefined;
  let kluis: Kluis | undefined;
  try {
    mariadb = await startEmbeddedMariadb({ dir: path.join(root, 'mariadb') });
    const databaseUrl = await mariadb.createDatabase('kluis_bench');
    await migrateDatabase(databaseUrl);
    const config = loadConfig(
      { LOCAL_MODE: 'true', PORT: '0', DATABASE_URL: databaseUrl, DATA_DIR: path.join(root, 'data'), KNOWLEDGE_DIR: 'demo/knowledge', KNOWLEDGE_WATCH: 'false', LOG_LEVEL: 'silent', LOCAL_TENANT_ID: tenantId, ASSISTANT_PROVIDER: 'extractive' },
      { dotenv: false, cwd: REPO_ROOT },
    );
    kluis = await startKluis(config, { logger: createLogger(config.logLevel) });
    log(`  Kluis started in-process (${kluis.initialSync?.indexed ?? 0} demo documents indexed on LanceDB, private MariaDB)`);
    const { db, index, directory, principals, usage } = kluis.modules;

    const fake = instantProvider();
    const audit = createPrismaAuditLog(db);
    const conversations = createPrismaConversationStore(db);
    const knowledge = createKnowledge({ index, readers: createReaderResolver({ entraObjectId: (w, u) => directory.entraObjectId(w, u) }) }, { minCoverage: config.knowledge.minCoverage });
    const catalogue = catalogueOf({ openai: () => fake.provider });
    const policies = createRoutingPolicies({ store: createPrismaRoutingPolicyStore(db), audit, environment: { defaultProvider: 'openai', allowed: ['openai'], rules: [] }, available: () => catalogue.available() });
    const routing = createWorkspaceRouting(policies, catalogue);
    const assistant = createAssistant({
      knowledge,
      provider: fake.provider,
      routing,
      conversations,
      audit,
      topK: config.knowledge.topK,
      settings: createAssistantSettings({ store: createPrismaAssistantSettingsStore(db), audit }),
      meter: usage,
    });

    // Ten people, a conversation each, so history grows as in use; the workspace saves its own policy.
    const people = await Promise.all(
      Array.from({ length: 10 }, (_, i) => principals.resolve({ tenantId, entraObjectId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, authMethod: 'entra-token', appRoles: [i === 0 ? 'Kluis.Admin' : 'Kluis.User'] })),
    );
    await policies.update(people[0]!, { defaultProvider: 'openai', allowed: ['openai'], rules: [{ when: 'long-context', minChars: 200_000, provider: 'openai' }] });

    const overhead: number[] = [];
    const direct: number[] = [];
    const kluisTokens: number[] = [];
    const naiveTokens: number[] = [];
    let withoutText = 0;
    for (let n = 0; n < warmup + questions; n++) {
      const principal = people[n % people.length]!;
      const question = QUESTIONS[n % QUESTIONS.length]!;
      const conversationExternalId = `bench-${principal.userId}`;
      // The naive baseline's input, read before the question is stored: the whole history and every top-K hit.
      const conversation = await conversations.openConversation(principal.workspaceId, { channel: 'tab', externalId: conversationExternalId, userId: principal.userId });
      const history = await conversations.recentMessages(principal.workspaceId, conversation.id, 10_000, { authorUserId: principal.userId });
      const hits = await knowledge.search(principal, question, config.knowledge.topK);

      const sentBefore = fake.requests.length;
      let firstText = 0;
      const started = performance.now();
      await assistant.answer(principal, question, { channel: 'tab', conversationExternalId }, { onText: () => void (firstText ||= performance.now()) });
      if (fake.requests.length === sentBefore || firstText === 0) {
        withoutText++;
        continue;
      }
      const request = fake.requests.at(-1)!;
      const providerOwn = fake.timing.firstDelta - fake.timing.started;

      // Baseline: the same provider, the same request, called directly.
      const directStart = performance.now();
      for await (const delta of fake.provider.stream(request)) if (delta.type === 'text') break;
      const directFirst = performance.now() - directStart;

      if (n < warmup) continue;
      overhead.push(firstText - started - providerOwn);
      direct.push(directFirst);
      kluisTokens.push(tokens(request.messages));
      const naive = [{ content: BASE_SYSTEM_PROMPT }, ...history.map((m) => ({ content: m.text })), ...hits.map((h) => ({ content: `${h.title}\n${h.text}` })), { content: question }];
      naiveTokens.push(tokens(naive));
    }
    fake.requests.length = 0;

    const o = summarize(overhead);
    const d = summarize(direct);
    const k = summarize(kluisTokens);
    const v = summarize(naiveTokens);
    log(`  first chunk, Kluis's part: p50 ${o.p50.toFixed(2)} ms, p95 ${o.p95.toFixed(2)} ms; provider direct: p50 ${(d.p50 * 1000).toFixed(1)} µs, p95 ${(d.p95 * 1000).toFixed(1)} µs`);
    log(`  prompt tokens per question: Kluis mean ${k.mean.toFixed(0)}, p95 ${k.p95.toFixed(0)}; send-everything mean ${v.mean.toFixed(0)}, p95 ${v.p95.toFixed(0)}`);
    return {
      figures: [
        { benchmark: 'assistant', metric: 'first streamed chunk, Kluis part p50', value: o.p50, unit: 'ms', baseline: { label: 'provider called directly p50', value: d.p50 } },
        { benchmark: 'assistant', metric: 'first streamed chunk, Kluis part p95', value: o.p95, unit: 'ms', baseline: { label: 'provider called directly p95', value: d.p95 } },
        { benchmark: 'assistant', metric: 'prompt tokens per question, mean', value: k.mean, unit: 'count', baseline: { label: 'send everything retrieved, mean', value: v.mean } },
        { benchmark: 'assistant', metric: 'prompt tokens per question, p95', value: k.p95, unit: 'count', baseline: { label: 'send everything retrieved, p95', value: v.p95 } },
      ],
      notes: [
        `assistant: ${overhead.length} questions measured after ${warmup} warm-up ones, ${people.length} users with growing conversations, top-K ${config.knowledge.topK}, a saved workspace routing policy; the provider's own time to its first delta is subtracted from every sample.`,
        `assistant: tokens estimated as characters / 4 for both prompts; the naive prompt holds the same system prompt, the whole history and every retrieved chunk's full text.`,
        ...(withoutText ? [`assistant: ${withoutText} questions streamed no text (nothing found), left out.`] : []),
      ],
    };
  } finally {
    await kluis?.stop().catch(() => undefined);
    await mariadb?.stop().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
