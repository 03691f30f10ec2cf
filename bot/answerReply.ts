/**
 * How an answer reaches Teams. In a personal chat it streams (teams-ai's StreamingResponse): an
 * informative update while Kluis searches, the text as the model writes it, then one final
 * message with the citations, the "AI generated" label and the feedback buttons. Group chats and
 * channels cannot stream, so they get one final message: the answer card.
 *
 * The final message always carries the answer as stored, not the streamed text: when the answer
 * was replaced (a withheld reply, nothing found, the budget notice) the user ends up seeing what
 * is on record. A failure part-way ends the stream with the error text, never a dangling stream.
 */
import { ActivityTypes, CardFactory, type TurnContext } from 'botbuilder';
import { StreamingResponse } from '@microsoft/teams-ai';
import type { Answer, AnswerEvents } from '../api/assistant/assistant';
import { answerCard, providerLine } from './cards';

type ClientCitation = NonNullable<StreamingResponse['citations']>[number];

/** Teams shows at most 80 characters of a citation's name and 160 of its abstract. */
const MAX_CITATION_NAME = 80;
const MAX_CITATION_ABSTRACT = 160;

export const PROBLEM_TEXT = {
  unavailable: 'The language model is busy or unreachable right now, so I could not answer. Please try again in a minute. / Het taalmodel is even niet bereikbaar; probeer het zo opnieuw.',
  failed: 'Something went wrong while answering; the error was logged. Please try again. / Er ging iets mis bij het antwoorden; probeer het opnieuw.',
  storeDown: 'Part of Kluis is briefly unavailable, so your question was not answered. Please try again in a minute. / Een deel van Kluis is even niet bereikbaar; probeer het zo opnieuw.',
  tooFast: (seconds: number) => `You are asking faster than Kluis allows; please try again in ${seconds} s. / Je stelt sneller vragen dan Kluis toestaat; probeer het over ${seconds} s opnieuw.`,
};

const WEB_SOURCES = { en: 'Web sources', nl: 'Webbronnen' };

/** The "AI generated" label of Teams, on a message that is not streamed. */
export const AI_GENERATED_ENTITY = { type: 'https://schema.org/Message', '@type': 'Message', '@context': 'https://schema.org', '@id': '', additionalType: ['AIGeneratedContent'] };

export const isPersonalChat = (context: TurnContext) => context.activity.conversation?.conversationType === 'personal';

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * Teams citation entities for the answer: each document passage at its own number (the `[n]` in
 * the text), then the web sources of a web-grounded provider after the last passage number.
 */
export function citationsOf(answer: Answer): ClientCitation[] {
  const out: ClientCitation[] = answer.citations.map((c) => ({
    '@type': 'Claim',
    position: c.number,
    appearance: { '@type': 'DigitalDocument', name: clip(c.title || c.sourceRef, MAX_CITATION_NAME), ...(c.url ? { url: c.url } : {}), abstract: clip(c.passage, MAX_CITATION_ABSTRACT) },
  }));
  const offset = webOffset(answer);
  for (const w of answer.webCitations ?? []) {
    out.push({ '@type': 'Claim', position: offset + w.number, appearance: { '@type': 'DigitalDocument', name: clip(w.title || new URL(w.url).hostname, MAX_CITATION_NAME), url: w.url, abstract: clip(w.date ? `${w.url} (${w.date})` : w.url, MAX_CITATION_ABSTRACT) } });
  }
  return out;
}

const webOffset = (answer: Answer) => answer.citations.reduce((n, c) => Math.max(n, c.number), 0);

/** The final text: the stored answer, a line naming the web sources (so Teams links them), and who answered. */
export function finalTextOf(answer: Answer): string {
  const parts = [answer.text];
  const web = answer.webCitations ?? [];
  if (web.length > 0) parts.push(`${WEB_SOURCES[answer.language]}: ${web.map((w) => `[${webOffset(answer) + w.number}]`).join(' ')}`);
  if (!answer.nothingFound) parts.push(`_${providerLine(answer)}_`);
  return parts.join('\n\n');
}

/**
 * teams-ai 1.7.4 sends the text it accumulated as the final message and offers no way to replace
 * it; the stored answer must be what stays on screen, so the accumulated text is set here.
 */
function settleText(stream: StreamingResponse, text: string): void {
  (stream as unknown as { _message: string })._message = text;
}

/**
 * Streams one answer into a personal chat. `produce` runs the answer pipeline with the events it
 * is given; `feedback` offers Teams' feedback buttons on the final message. When it fails, the
 * stream still ends, with `problemText(error)` as its final message, and the error is returned
 * for the caller to log.
 */
export async function streamAnswer(
  context: TurnContext,
  produce: (events: AnswerEvents) => Promise<Answer>,
  problemText: (error: unknown) => string,
  options: { feedback: boolean },
): Promise<{ answer?: Answer; error?: unknown; replyActivityId?: string }> {
  const stream = new StreamingResponse(context);
  // teams-ai rethrows a failed send from a promise nobody awaits until the stream ends; watching
  // it keeps a channel outage from becoming an unhandled rejection that would stop the process.
  let sendFailure: unknown;
  const watch = () => void stream.waitForQueue().catch((error: unknown) => void (sendFailure ??= error));
  let writing = false;
  const events: AnswerEvents = {
    // Progress only until the text starts: Teams shows informative updates before the answer, not inside it.
    onStatus: (text) => {
      if (writing) return;
      stream.queueInformativeUpdate(text);
      watch();
    },
    onText: (text) => {
      writing = true;
      stream.queueTextChunk(text);
      watch();
    },
  };
  const end = async (): Promise<unknown> => {
    try {
      await stream.endStream();
    } catch (error) {
      return error;
    }
    return sendFailure;
  };
  let answer: Answer;
  try {
    answer = await produce(events);
  } catch (error) {
    settleText(stream, problemText(error));
    await end();
    return { error };
  }
  settleText(stream, finalTextOf(answer));
  // Citations go on the final message (teams-ai puts them in the AI entity, which needs the label).
  stream.citations?.push(...citationsOf(answer));
  stream.setGeneratedByAILabel(true);
  // Feedback buttons only where a handler stores what they send.
  stream.setFeedbackLoop(options.feedback && !!answer.messageId);
  const failed = await end();
  // The answer is stored either way; without a delivered final message there is no reply to link.
  if (failed !== undefined) return { answer, error: failed };
  return { answer, replyActivityId: stream.streamId };
}

/** One final message for a chat that cannot stream: the answer card with the "AI generated" label. */
export async function sendAnswerCard(context: TurnContext, answer: Answer): Promise<string | undefined> {
  const sent = await context.sendActivity({ type: ActivityTypes.Message, attachments: [CardFactory.adaptiveCard(answerCard(answer))], summary: answer.text.slice(0, 200), entities: [AI_GENERATED_ENTITY] });
  return sent?.id;
}
