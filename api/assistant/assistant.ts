/**
 * The answer pipeline: store the question -> retrieve (workspace-scoped, relevant only) ->
 * build the prompt -> provider -> citations -> store the answer. Both messages are stored before
 * the channel sends the reply, so what the user saw is always on record.
 */
import type { AuditLog } from '../audit/ports';
import { fail } from '../errors';
import type { Knowledge } from '../knowledge/knowledge';
import type { DelegatedAccess } from '../knowledge/ports';
import { detectLanguage } from '../knowledge/language';
import type { Principal } from '../tenancy/principal';
import { revealsSystemPrompt } from './leakGuard';
import type { AssistantTask, ChatProvider, Citation, ConversationStore, MailItem, StoredMessage } from './ports';
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
}

export interface Answer {
  text: string;
  citations: Citation[];
  provider: string;
  language: 'nl' | 'en';
  /** True when no document answered the question; `text` then says so plainly. */
  nothingFound: boolean;
}

export interface Assistant {
  answer(principal: Principal, question: string, context: AnswerContext): Promise<Answer>;
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

export function createAssistant(deps: { knowledge: Knowledge; provider: ChatProvider; conversations: ConversationStore; audit: AuditLog; topK: number; settings?: AssistantSettingsSource }): Assistant {
  return {
    async startNewConversation(principal, context) {
      await deps.conversations.setAside(principal.workspaceId, { channel: context.channel, externalId: context.conversationExternalId });
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'assistant.conversation_restarted', outcome: 'success', detail: { channel: context.channel } });
    },

    async answer(principal, rawQuestion, context) {
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
        const request = buildPrompt({ question, language, passages: toPassages(hits), history, instructions: settings.instructions, limits: settings.limits, task, mail });
        const passages = request.passages;
        const result = await deps.provider.complete(request);
        if (revealsSystemPrompt(result.text, request.messages[0]!.content)) {
          await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'assistant.answer_withheld', outcome: 'refused', detail: { reason: 'system-prompt-disclosure', provider: result.provider } });
          answer = { text: WITHHELD[language], citations: [], provider: result.provider, language, nothingFound: false };
        } else {
          const used = result.usedPassages.length > 0 ? result.usedPassages : passages.map((p) => p.number);
          const citations = passages
            .filter((p) => used.includes(p.number))
            .map((p) => ({ number: p.number, documentId: p.documentId, title: p.title, url: p.url, sourceRef: p.sourceRef, passage: p.text }));
          answer = { text: result.text, citations, provider: result.provider, language, nothingFound: false };
        }
      }
      await deps.conversations.appendMessage(principal.workspaceId, conversation.id, {
        role: 'assistant',
        // The person the answer was given to: their memory, their export, their erasure.
        authorUserId: principal.userId,
        text: answer.text,
        citations: answer.citations,
        provider: answer.provider,
      });
      // Metadata only: the audit log never holds the question or the answer.
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'assistant.answer', outcome: 'success', detail: { channel: context.channel, task, mailShared: !!mail, provider: answer.provider, citations: answer.citations.length, nothingFound: answer.nothingFound } });
      return answer;
    },
  };
}
