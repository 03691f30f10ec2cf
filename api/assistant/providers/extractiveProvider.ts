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

export function createExtractiveProvider(): ChatProvider {
  const answer = (request: ChatRequest): { paragraphs: string[]; result: ChatResult } => {
    const terms = queryTerms(request.question);
    const quotes = request.passages.slice(0, MAX_QUOTES).map((p) => ({ passage: p, quote: bestExcerpt(p, terms) }));
    const paragraphs = [INTRO[request.language], ...quotes.map(({ passage, quote }) => `> "${quote}" [${passage.number}]`)];
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
