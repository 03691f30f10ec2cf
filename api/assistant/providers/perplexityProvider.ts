/**
 * The Perplexity adapter: Perplexity's Sonar models answer with a web search of their own, over an
 * OpenAI-compatible Chat Completions API (`POST {baseUrl}/chat/completions`, Bearer key), so the
 * `openai` SDK speaks to it. Its answers carry the web pages it read as top-level `citations` (URLs)
 * and `search_results` ({ title, url, date }); both pass through as `webCitations`, numbered as
 * Perplexity numbers them, so the user sees which web sources stand behind a web-grounded answer.
 * Wire handling, retries and error mapping: chatCompletions.ts.
 */
import type { ChatProvider, WebCitation } from '../ports';
import { createChatCompletionsProvider, openAiCompatibleClient } from './chatCompletions';
import { checkSettings, type RemoteProviderSettings } from './providerKit';

export type PerplexityProviderOptions = RemoteProviderSettings;

const DEFAULT_BASE_URL = 'https://api.perplexity.ai';
/** Enough for any answer; a hostile or broken reply cannot make Kluis carry thousands of links. */
const MAX_WEB_CITATIONS = 20;

export function createPerplexityProvider(options: PerplexityProviderOptions): ChatProvider {
  checkSettings('Perplexity', options);
  const client = openAiCompatibleClient(options, DEFAULT_BASE_URL);
  return createChatCompletionsProvider({
    name: 'perplexity',
    label: 'Perplexity',
    client,
    model: options.model,
    timeoutMs: options.timeoutMs,
    maxRetries: options.maxRetries,
    logger: options.logger,
    // Perplexity reports usage on its stream without being asked.
    streamUsage: false,
    webCitations: perplexityWebCitations,
  });
}

/**
 * The web sources of a Perplexity completion or chunk: `search_results` when present (they have
 * titles and dates), else the bare `citations` URLs. Only http(s) URLs; anything else is dropped.
 */
export function perplexityWebCitations(raw: unknown): WebCitation[] | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const { search_results: results, citations } = raw as { search_results?: unknown; citations?: unknown };
  const out: WebCitation[] = [];
  if (Array.isArray(results) && results.length > 0) {
    for (const [i, item] of results.slice(0, MAX_WEB_CITATIONS).entries()) {
      if (item === null || typeof item !== 'object') continue;
      const { url, title, date } = item as { url?: unknown; title?: unknown; date?: unknown };
      if (!isWebUrl(url)) continue;
      const citation: WebCitation = { number: i + 1, url };
      if (typeof title === 'string' && title.trim() !== '') citation.title = title.trim().slice(0, 300);
      if (typeof date === 'string' && date.trim() !== '') citation.date = date.trim().slice(0, 40);
      out.push(citation);
    }
  } else if (Array.isArray(citations)) {
    for (const [i, url] of citations.slice(0, MAX_WEB_CITATIONS).entries()) {
      if (isWebUrl(url)) out.push({ number: i + 1, url });
    }
  } else {
    return undefined;
  }
  return out;
}

function isWebUrl(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 2048) return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}
