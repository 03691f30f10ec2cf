/**
 * The answer pipeline: store the question -> retrieve (workspace-scoped, relevant only) ->
 * build the prompt -> provider -> citations -> store the answer. Both messages are stored before
 * the channel sends the reply, so what the user saw is always on record.
 */
import type { AuditLog } from '../audit/ports';
import type { Knowledge } from '../knowledge/knowledge';
import type { DelegatedAccess } from '../knowledge/ports';
import { detectLanguage } from '../knowledge/language';
import type { Principal } from '../tenancy/principal';
import { fail, isKluisError } from '../errors';
import { createStreamGuard, revealsSystemPrompt } from './leakGuard';
import type { AssistantTask, ChatProvider, ChatRequest, ChatResult, Citation, ConversationStore, MailItem, StoredMessage, WebCitation } from './ports';
import { tracing } from '../operations/tracing';
import type { UsageMeter } from './usage';
import { buildPrompt, DEFAULT_PROMPT_LIMITS, toPassages, type PromptLimits, type Turn } from './prompt';

export interface AnswerContext {
  channel: string;
  conversationExternalId: string;
  /** Default 'answer'. 'summarise' and 'draft' need `mail`. */
  task?: AssistantTask;
  /** The Outlook item the user chose to share: sent to the provider framed as data, never stored. */
  mail?: MailItem;
  /** The asker's own access to the source for this request (a signed-in Teams user, an Entra token). */
  access?: DelegatedAccess;
  /** The asker wants a web-grounded answer: the workspace's `web` routing rule (Perplexity) applies. */
  grounding?: 'web';
}

export interface Answer {
  text: string;
  citations: Citation[];
  provider: string;
  model?: string;
  /** The stored assistant message (feedback refers to it). */
  messageId?: string;
  /** Providers tried before the one that answered. */
  fellBackFrom?: Array<{ provider: string; errorId: string }>;
  /** Web sources of a web-grounded provider, apart from the passages. */
  webCitations?: WebCitation[];
  /** Streamed text was withheld: the channel replaces what it showed with `text`. */
  replaced?: boolean;
  language: 'nl' | 'en';
  /** True when no document answered the question; `text` then says so plainly. */
  nothingFound: boolean;
}

/** Progress of an answer for channels that stream (Teams personal chats, the tab's SSE). */
export interface AnswerEvents {
  /** What Kluis is doing, in the asker's language. */
  onStatus?(text: string): void;
  /** Answer text as it is written (never a run of the system prompt; see leakGuard.ts). */
  onText?(text: string): void;
}

export interface Assistant {
  answer(principal: Principal, question: string, context: AnswerContext, events?: AnswerEvents): Promise<Answer>;
  /** `new`: the next question starts a conversation without memory of this one. */
  startNewConversation(principal: Principal, context: AnswerContext): Promise<void>;
}

/** Where the answer pipeline reads a workspace's instructions and prompt limits. */
export interface AssistantSettingsSource {
  effective(workspaceId: string): Promise<{ instructions?: string; limits: PromptLimits }>;
}

export const MAX_QUESTION_CHARS = 4000;

const DEFAULT_TASK_QUESTION: Record<AssistantTask, string> = {
  answer: '',
  summarise: 'Summarise this e-mail.',
  draft: 'Draft a reply to this e-mail.',
};

const STATUS_SEARCHING = { en: 'Searching your documents…', nl: 'Ik zoek in jullie documenten…' };
const STATUS_WRITING = { en: 'Writing the answer…', nl: 'Ik schrijf het antwoord…' };
const BUDGET_EXHAUSTED_NOTICE = {
  en: "This month's budget for the language model is used up, so here are the passages themselves (ask an administrator to raise the budget):",
  nl: 'Het budget van deze maand voor het taalmodel is op, dus hier zijn de passages zelf (vraag een beheerder om het budget te verhogen):',
};

/** One provider call: streamed to `onText` when the channel streams, otherwise whole; traced. */
function run(provider: ChatProvider, request: ChatRequest, onText?: (text: string) => void, offline = false): Promise<ChatResult> {
  return tracing().span('provider.chat', { 'gen_ai.operation.name': 'chat', 'kluis.provider.requested': provider.name, 'kluis.streamed': !!onText, 'kluis.provider.offline': offline || undefined }, async (span) => {
    span.set({ 'kluis.provider.outcome': 'failure' });
    const result = await call(provider, request, onText);
    span.set({
      'kluis.provider.outcome': 'success',
      'gen_ai.provider.name': result.provider,
      'gen_ai.response.model': result.model,
      'gen_ai.usage.input_tokens': result.usage?.inputTokens,
      'gen_ai.usage.output_tokens': result.usage?.outputTokens,
      'kluis.provider.fallbacks': result.fellBackFrom?.length ?? 0,
    });
    return result;
  });
}

async function call(provider: ChatProvider, request: ChatRequest, onText?: (text: string) => void): Promise<ChatResult> {
  if (!onText) return provider.complete(request);
  let result: ChatResult | undefined;
  for await (const delta of provider.stream(request)) {
    if (delta.type === 'text') onText(delta.text);
    else result = delta.result;
  }
  if (!result) fail('provider_stream_invalid', 'The stream ended without a result');
  return result;
}

const WITHHELD = {
  en: 'I cannot share that answer: it would reveal how I am configured. Please ask about the content of your documents.',
  nl: 'Dat antwoord kan ik niet geven: het zou laten zien hoe ik ben ingesteld. Vraag gerust naar de inhoud van jullie documenten.',
};

/** Earlier question/answer pairs of the asker, oldest first (a question without an answer is left out). */
export function turnsOf(messages: StoredMessage[]): Turn[] {
  const turns: Turn[] = [];
  for (let i = 0; i + 1 < messages.length; i++) {
    if (messages[i]!.role === 'user' && messages[i + 1]!.role === 'assistant') {
      turns.push({ question: messages[i]!.text, answer: messages[i + 1]!.text });
      i++;
    }
  }
  return turns;
}

const NOTHING_FOUND = {
  en: "I couldn't find anything about this in your organisation's documents, so I won't guess. Try other words, or ask the person who owns this topic.",
  nl: 'Ik vond hierover niets in de documenten van jullie organisatie, dus ik ga niet gokken. Probeer andere woorden, of vraag het aan wie dit onderwerp beheert.',
};

export interface AssistantDeps {
  knowledge: Knowledge;
  provider: ChatProvider;
  conversations: ConversationStore;
  audit: AuditLog;
  topK: number;
  settings?: AssistantSettingsSource;
  /** Meters every paid call and stops them when the workspace's monthly budget is spent. */
  meter?: UsageMeter;
  /** Answers (by quoting) when the budget stops paid calls. */
  offlineProvider?: ChatProvider;
  /** The asker's workspace's router (its routing policy); without it every workspace uses `provider`. */
  routing?: { forWorkspace(workspaceId: string): Promise<ChatProvider> };
}

export function createAssistant(deps: AssistantDeps): Assistant {
  const assistant: Assistant = {
    async startNewConversation(principal, context) {
      await deps.conversations.setAside(principal.workspaceId, { channel: context.channel, externalId: context.conversationExternalId });
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'assistant.conversation_restarted', outcome: 'success', detail: { channel: context.channel } });
    },

    async answer(principal, rawQuestion, context, events) {
      const emit = (text: string) => {
        if (text) events?.onText?.(text);
      };
      const task = context.task ?? 'answer';
      const mail = context.mail;
      if (task !== 'answer' && !mail) fail('request_malformed', `The ${task} task needs the e-mail the user shares`);
      const question = (rawQuestion.trim() || DEFAULT_TASK_QUESTION[task]).slice(0, MAX_QUESTION_CHARS);
      const language = detectLanguage(question);
      const conversation = await deps.conversations.openConversation(principal.workspaceId, { channel: context.channel, externalId: context.conversationExternalId, userId: principal.userId });
      const settings = deps.settings ? await deps.settings.effective(principal.workspaceId) : { limits: DEFAULT_PROMPT_LIMITS };
      // Memory: only the asker's own earlier questions and the answers given to them (a group chat
      // holds other people's turns too; they never reach the prompt).
      const history = settings.limits.maxTurns > 0 ? turnsOf(await deps.conversations.recentMessages(principal.workspaceId, conversation.id, settings.limits.maxTurns * 2 + 1, { authorUserId: principal.userId })) : [];
      await deps.conversations.appendMessage(principal.workspaceId, conversation.id, { role: 'user', text: question, authorUserId: principal.userId });

      events?.onStatus?.(STATUS_SEARCHING[language]);
      // A summary needs only the e-mail; a draft looks up what the e-mail is about.
      const query = task === 'draft' && mail ? `${question} ${mail.subject} ${mail.body.slice(0, 500)}` : question;
      let hits = task === 'summarise' ? [] : await deps.knowledge.search(principal, query, deps.topK, context.access);
      // A follow-up ("and in Paris?") may not stand on its own: search again with the previous question.
      if (hits.length === 0 && history.length > 0 && task === 'answer') hits = await deps.knowledge.search(principal, `${history.at(-1)!.question} ${question}`, deps.topK, context.access);
      let answer: Answer;
      // Without passages Kluis does not guess, unless the user shared an e-mail to work from.
      if (hits.length === 0 && !mail) {
        answer = { text: NOTHING_FOUND[language], citations: [], provider: 'none', language, nothingFound: true };
      } else {
        const request: ChatRequest = { ...buildPrompt({ question, language, passages: toPassages(hits), history, instructions: settings.instructions, limits: settings.limits, task, mail }), ...(context.grounding ? { grounding: context.grounding } : {}) };
        const passages = request.passages;
        const system = request.messages[0]!.content;
        events?.onStatus?.(STATUS_WRITING[language]);
        let notice = '';
        let result: ChatResult;
        const guard = createStreamGuard(system);
        const provider = deps.routing ? await deps.routing.forWorkspace(principal.workspaceId) : deps.provider;
        try {
          result = await run(deps.meter ? deps.meter.forPrincipal(principal).wrap(provider) : provider, request, events?.onText ? (text) => emit(guard.push(text)) : undefined);
        } catch (error) {
          // The month's budget is spent: no paid call leaves Kluis; the offline provider still quotes the documents.
          if (!isKluisError(error, 'budget_exhausted') || !deps.offlineProvider) throw error;
          notice = `${BUDGET_EXHAUSTED_NOTICE[language]}\n\n`;
          emit(notice);
          result = await run(deps.offlineProvider, request, events?.onText ? (text) => emit(guard.push(text)) : undefined, true);
        }
        if (events?.onText) emit(guard.finish());
        if (guard.leaked || revealsSystemPrompt(result.text, system)) {
          await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'assistant.answer_withheld', outcome: 'refused', detail: { reason: 'system-prompt-disclosure', provider: result.provider } });
          answer = { text: WITHHELD[language], citations: [], provider: result.provider, model: result.model, language, nothingFound: false, replaced: events?.onText ? true : undefined };
        } else {
          const used = result.usedPassages.length > 0 ? result.usedPassages : passages.map((p) => p.number);
          const citations = passages
            .filter((p) => used.includes(p.number))
            .map((p) => ({ number: p.number, documentId: p.documentId, title: p.title, url: p.url, sourceRef: p.sourceRef, passage: p.text }));
          answer = { text: notice + result.text, citations, provider: result.provider, model: result.model, language, nothingFound: false, fellBackFrom: result.fellBackFrom, webCitations: result.webCitations };
        }
      }
      const stored = await deps.conversations.appendMessage(principal.workspaceId, conversation.id, {
        role: 'assistant',
        // The person the answer was given to: their memory, their export, their erasure.
        authorUserId: principal.userId,
        text: answer.text,
        citations: answer.citations,
        provider: answer.provider,
        model: answer.model,
      });
      answer.messageId = stored.id;
      // Metadata only: the audit log never holds the question or the answer.
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'assistant.answer', outcome: 'success', detail: { channel: context.channel, task, mailShared: !!mail, provider: answer.provider, citations: answer.citations.length, nothingFound: answer.nothingFound } });
      return answer;
    },
  };
  return traced(assistant);
}

/** The answer pipeline in an `assistant.answer` span: ids and counts, never the question or the answer. */
function traced(assistant: Assistant): Assistant {
  return {
    startNewConversation: (principal, context) => assistant.startNewConversation(principal, context),
    answer: (principal, question, context, events) =>
      tracing().span('assistant.answer', { 'kluis.workspace.id': principal.workspaceId, 'kluis.channel': context.channel, 'kluis.task': context.task ?? 'answer', 'kluis.grounding.web': context.grounding === 'web' || undefined }, async (span) => {
        const answer = await assistant.answer(principal, question, context, events);
        span.set({ 'kluis.answer.citations': answer.citations.length, 'kluis.answer.nothing_found': answer.nothingFound, 'kluis.answer.withheld': answer.text === WITHHELD[answer.language] || undefined });
        return answer;
      }),
  };
}
