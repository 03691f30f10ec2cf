/**
 * The extractive provider: works without any API key and without a language model. It answers
 * with the most relevant sentences of the best passages, quoted verbatim and labelled as quotes,
 * so it can never invent anything. Streaming hands out the same answer paragraph by paragraph.
 */
import type { ChatDelta, ChatProvider, ChatRequest, ChatResult, Passage } from '../ports';

const MAX_QUOTES = 2;
const MAX_QUOTE_CHARS = 450;

const INTRO = {
  en: 'I found this in your documents (quoted as written):',
  nl: 'Dit vond ik in jullie documenten (letterlijk geciteerd):',
};

const MAIL_INTRO = {
  summarise: { en: 'The sentences of this e-mail that carry most of its content (quoted as written):', nl: 'De zinnen van deze e-mail die het meeste zeggen (letterlijk geciteerd):' },
  draft: {
    en: 'Without a language model Kluis cannot write a reply; these passages of your documents fit this e-mail (quoted as written):',
    nl: 'Zonder taalmodel kan Kluis geen antwoord schrijven; deze passages uit jullie documenten passen bij deze e-mail (letterlijk geciteerd):',
  },
};

/** The sentences of an e-mail body that share most words with the rest of it, in their order. */
export function keySentences(body: string, count = 3): string[] {
  const sentences = body.replace(/\s+/g, ' ').split(/(?<=[.!?])\s+/).map((s) => s.trim()).filter((s) => s.length >= 20 && s.length <= 400).slice(0, 200);
  const frequency = new Map<string, number>();
  const stems = (s: string) => [...new Set((s.toLowerCase().match(/[\p{L}\p{N}]{4,}/gu) ?? []).map((w) => w.slice(0, 5)))];
  for (const s of sentences) for (const w of stems(s)) frequency.set(w, (frequency.get(w) ?? 0) + 1);
  const scored = sentences.map((s, i) => ({ i, s, score: stems(s).reduce((n, w) => n + (frequency.get(w) ?? 0) - 1, 0) / Math.sqrt(stems(s).length || 1) }));
  return scored
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, count)
    .sort((a, b) => a.i - b.i)
    .map((x) => x.s);
}

export function createExtractiveProvider(): ChatProvider {
  const answer = (request: ChatRequest): { paragraphs: string[]; result: ChatResult } => {
    if (request.task === 'summarise' && request.mail) {
      const paragraphs = [MAIL_INTRO.summarise[request.language], ...keySentences(request.mail.body).map((s) => `> "${s}"`)];
      return { paragraphs, result: { text: paragraphs.join('\n\n'), provider: 'extractive', model: 'extractive-v1', usedPassages: [] } };
    }
    const terms = queryTerms(request.task === 'draft' && request.mail ? `${request.mail.subject} ${request.mail.body.slice(0, 500)}` : request.question);
    const quotes = request.passages.slice(0, MAX_QUOTES).map((p) => ({ passage: p, quote: bestExcerpt(p, terms) }));
    const intro = request.task === 'draft' && request.mail ? MAIL_INTRO.draft[request.language] : INTRO[request.language];
    const paragraphs = [intro, ...quotes.map(({ passage, quote }) => `> "${quote}" [${passage.number}]`)];
    const text = paragraphs.join('\n\n');
    return { paragraphs, result: { text, provider: 'extractive', model: 'extractive-v1', usedPassages: quotes.map((q) => q.passage.number) } };
  };

  return {
    name: 'extractive',
    async complete(request: ChatRequest, signal?: AbortSignal): Promise<ChatResult> {
      signal?.throwIfAborted();
      return answer(request).result;
    },
    async *stream(request: ChatRequest, signal?: AbortSignal): AsyncIterable<ChatDelta> {
      signal?.throwIfAborted();
      const { paragraphs, result } = answer(request);
      for (const [i, paragraph] of paragraphs.entries()) {
        signal?.throwIfAborted();
        yield { type: 'text', text: i === 0 ? paragraph : `\n\n${paragraph}` };
      }
      yield { type: 'done', result };
    },
  };
}

/** Lower-cased word stems (first 5 letters) of the question's longer words. */
export function queryTerms(question: string): string[] {
  return [...new Set((question.toLowerCase().match(/[\p{L}\p{N}]{4,}/gu) ?? []).map((w) => w.slice(0, 5)))];
}

/** The window of consecutive sentences that mentions most query terms, up to MAX_QUOTE_CHARS. */
export function bestExcerpt(passage: Passage, terms: string[]): string {
  const sentences = passage.text.replace(/\s+/g, ' ').split(/(?<=[.!?:])\s+/).filter(Boolean);
  const score = (s: string) => {
    const words = s.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    return terms.filter((t) => words.some((w) => w.startsWith(t))).length;
  };
  let best = { start: 0, score: -1 };
  sentences.forEach((s, i) => {
    const value = score(s);
    if (value > best.score) best = { start: i, score: value };
  });
  let excerpt = sentences[best.start] ?? passage.text;
  for (let i = best.start + 1; i < sentences.length && excerpt.length + sentences[i]!.length < MAX_QUOTE_CHARS; i++) excerpt += ` ${sentences[i]}`;
  if (excerpt.length > MAX_QUOTE_CHARS) excerpt = `${excerpt.slice(0, MAX_QUOTE_CHARS - 1).replace(/\s+\S*$/, '')}…`;
  return excerpt;
}
