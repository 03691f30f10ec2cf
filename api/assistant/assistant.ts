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
import type { ChatProvider, Citation, ConversationStore } from './ports';
import { buildChatRequest, toPassages } from './prompt';

export interface AnswerContext {
  channel: string;
  conversationExternalId: string;
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
}

export const MAX_QUESTION_CHARS = 4000;

const NOTHING_FOUND = {
  en: "I couldn't find anything about this in your organisation's documents, so I won't guess. Try other words, or ask the person who owns this topic.",
  nl: 'Ik vond hierover niets in de documenten van jullie organisatie, dus ik ga niet gokken. Probeer andere woorden, of vraag het aan wie dit onderwerp beheert.',
};

export function createAssistant(deps: { knowledge: Knowledge; provider: ChatProvider; conversations: ConversationStore; audit: AuditLog; topK: number }): Assistant {
  return {
    async answer(principal, rawQuestion, context) {
      const question = rawQuestion.trim().slice(0, MAX_QUESTION_CHARS);
      const language = detectLanguage(question);
      const conversation = await deps.conversations.openConversation(principal.workspaceId, { channel: context.channel, externalId: context.conversationExternalId, userId: principal.userId });
      await deps.conversations.appendMessage(principal.workspaceId, conversation.id, { role: 'user', text: question, authorUserId: principal.userId });

      const hits = await deps.knowledge.search(principal, question, deps.topK, context.access);
      let answer: Answer;
      if (hits.length === 0) {
        answer = { text: NOTHING_FOUND[language], citations: [], provider: 'none', language, nothingFound: true };
      } else {
        const passages = toPassages(hits);
        const result = await deps.provider.complete(buildChatRequest(question, passages, language));
        const used = result.usedPassages.length > 0 ? result.usedPassages : passages.map((p) => p.number);
        const citations = passages
          .filter((p) => used.includes(p.number))
          .map((p) => ({ number: p.number, documentId: p.documentId, title: p.title, url: p.url, sourceRef: p.sourceRef, passage: p.text }));
        answer = { text: result.text, citations, provider: result.provider, language, nothingFound: false };
      }
      await deps.conversations.appendMessage(principal.workspaceId, conversation.id, {
        role: 'assistant',
        text: answer.text,
        citations: answer.citations,
        provider: answer.provider,
      });
      // Metadata only: the audit log never holds the question or the answer.
      await deps.audit.record({ workspaceId: principal.workspaceId, actorUserId: principal.userId, kind: 'assistant.answer', outcome: 'success', detail: { channel: context.channel, provider: answer.provider, citations: answer.citations.length, nothingFound: answer.nothingFound } });
      return answer;
    },
  };
}
