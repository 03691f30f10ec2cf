/**
 * What every remote provider adapter shares: checking its settings, reading Retry-After the way
 * the SDKs read it, finding the passage numbers an answer cites, cancelling promptly, and turning
 * a stream into a whole answer. Nothing here knows an SDK; each adapter maps its own errors.
 */
import { fail } from '../../errors';
import type { ChatDelta, ChatResult } from '../ports';

export interface ProviderLogger {
  warn(obj: object, msg: string): void;
}

/** Settings every SDK-backed adapter takes. */
export interface RemoteProviderSettings {
  apiKey: string;
  /** Defaults to the provider's public endpoint; set it for EU endpoints, proxies or tests. */
  baseUrl?: string;
  model: string;
  /** Per attempt, in milliseconds. */
  timeoutMs: number;
  /** Retries the SDK makes itself (429, 5xx, timeouts) before the error reaches Kluis. */
  maxRetries: number;
  logger?: ProviderLogger;
}

/** Fails with config_invalid naming the provider and the setting; never echoes the key. */
export function checkSettings(label: string, settings: RemoteProviderSettings): void {
  if (settings.apiKey.trim() === '') fail('config_invalid', `${label} provider: the API key is empty`);
  if (settings.model.trim() === '') fail('config_invalid', `${label} provider: the model name is empty`);
  // The SDKs reject non-integers themselves, but with errors that do not name our setting.
  if (!Number.isInteger(settings.timeoutMs) || settings.timeoutMs <= 0) {
    fail('config_invalid', `${label} provider: timeoutMs must be a positive integer, got ${settings.timeoutMs}`);
  }
  if (!Number.isInteger(settings.maxRetries) || settings.maxRetries < 0) {
    fail('config_invalid', `${label} provider: maxRetries must be a non-negative integer, got ${settings.maxRetries}`);
  }
  if (settings.baseUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(settings.baseUrl)) {
    fail('config_invalid', `${label} provider: baseUrl must be an http(s) URL`);
  }
}

export function retriesPhrase(maxRetries: number): string {
  return `after ${maxRetries} ${maxRetries === 1 ? 'retry' : 'retries'}`;
}

/**
 * Passage numbers cited in the answer, distinct and in order of first appearance. Accepts [1],
 * [2][3] and [1, 3]; numbers outside 1..passageCount (years in brackets, invented sources) are dropped.
 */
export function citedPassages(text: string, passageCount: number): number[] {
  const found: number[] = [];
  for (const marker of text.matchAll(/\[\s*(\d+(?:\s*,\s*\d+)*)\s*\]/g)) {
    for (const part of (marker[1] ?? '').split(',')) {
      const n = Number(part.trim());
      if (Number.isInteger(n) && n >= 1 && n <= passageCount && !found.includes(n)) found.push(n);
    }
  }
  return found;
}

type HeaderSource = Record<string, string | null | undefined> | { get(name: string): string | null } | undefined;

/**
 * Seconds to wait according to the last response, read the way the SDKs read it: `retry-after-ms`
 * first, then `Retry-After` as seconds or an HTTP date. Rounded up; undefined when absent or unreadable.
 */
export function retryAfterFrom(headers: HeaderSource): number | undefined {
  const header = (name: string): string | undefined => {
    if (!headers) return undefined;
    let value: string | null | undefined;
    if (typeof (headers as { get?: unknown }).get === 'function') {
      value = (headers as { get(name: string): string | null }).get(name);
    } else {
      const record = headers as Record<string, string | null | undefined>;
      const key = Object.keys(record).find((candidate) => candidate.toLowerCase() === name);
      value = key === undefined ? undefined : record[key];
    }
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };

  const millis = header('retry-after-ms');
  if (millis !== undefined && /^\d+(\.\d+)?$/.test(millis)) return Math.ceil(Number(millis) / 1000);

  const value = header('retry-after');
  if (value === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.ceil(Number(value));
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * Settles with `work`, or rejects as soon as `signal` aborts. The SDKs check the signal only while a
 * request is in flight, not while they sleep before a retry (which can last up to a minute after a
 * Retry-After), so without this a cancelled call could linger.
 */
export function untilAborted<T>(work: PromiseLike<T>, signal: AbortSignal | undefined): Promise<T> {
  const settled = Promise.resolve(work);
  if (signal === undefined) return settled;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    settled.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** The whole answer of a stream: what `complete` returns for adapters that always stream. */
export async function completeFromStream(deltas: AsyncIterable<ChatDelta>): Promise<ChatResult> {
  for await (const delta of deltas) {
    if (delta.type === 'done') return delta.result;
  }
  // Every adapter ends its stream with `done` or an error; reaching this is a bug in the adapter.
  return fail('internal', 'a provider stream ended without a result');
}

/** A finished answer from streamed text: trimmed, non-empty, with its cited passages. */
export function finishedText(label: string, text: string, why: string): string {
  const trimmed = text.trim();
  if (trimmed === '') fail('provider_unavailable', `${label} returned an empty answer (${why})`);
  return trimmed;
}

/**
 * The prompt builder's messages for APIs that take the system prompt apart (Anthropic, Gemini):
 * system messages joined, the rest with consecutive same-role turns merged so roles alternate,
 * and starting with the user as both APIs require.
 */
export function splitSystem(messages: ReadonlyArray<{ role: 'system' | 'user' | 'assistant'; content: string }>): {
  system: string | undefined;
  turns: Array<{ role: 'user' | 'assistant'; content: string }>;
} {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content);
  const turns: Array<{ role: 'user' | 'assistant'; content: string }> = [];
  for (const message of messages) {
    if (message.role === 'system') continue;
    const last = turns[turns.length - 1];
    if (last !== undefined && last.role === message.role) last.content += `\n\n${message.content}`;
    else if (last === undefined && message.role === 'assistant') turns.push({ role: 'user', content: '(earlier conversation)' }, { role: 'assistant', content: message.content });
    else turns.push({ role: message.role, content: message.content });
  }
  return { system: system.length > 0 ? system.join('\n\n') : undefined, turns };
}

/**
 * Whether a stream parser choked on JSON. By name, not instanceof: an SDK may run JSON.parse in
 * another realm (a test sandbox), whose SyntaxError is a different class.
 */
export function isJsonSyntaxError(error: unknown): boolean {
  return errorName(error) === 'SyntaxError';
}

/** An error's class name, realm-independent; only the name, as messages may quote provider data. */
export function errorName(error: unknown): string {
  if (typeof error === 'object' && error !== null && typeof (error as { name?: unknown }).name === 'string') return (error as { name: string }).name;
  return typeof error;
}
