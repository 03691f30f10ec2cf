/**
 * Prices of language models and the cost of a call, in integers only.
 *
 * A price is what a provider charges per million tokens, in the smallest currency unit (cents),
 * separately for input and output. Tokens x price-per-million is then a whole number of
 * millionths of a cent ("micros"), so a month of small calls adds up exactly instead of
 * rounding every call to zero cents. The defaults are the providers' public list prices (USD);
 * a workspace owner overrides or adds entries with USAGE_PRICES (see README).
 */

export interface ModelPrice {
  /** Cents per million input tokens. */
  input: number;
  /** Cents per million output tokens. */
  output: number;
}

/** Keys are `provider/model`, or `provider/*` for every model of the provider. */
export type PriceTable = Readonly<Record<string, ModelPrice>>;

const OPENAI_MODELS: Record<string, ModelPrice> = {
  'gpt-4o-mini': { input: 15, output: 60 },
  'gpt-4o': { input: 250, output: 1000 },
  'gpt-4.1': { input: 200, output: 800 },
  'gpt-4.1-mini': { input: 40, output: 160 },
  'gpt-4.1-nano': { input: 10, output: 40 },
  'o4-mini': { input: 110, output: 440 },
  'gpt-5': { input: 125, output: 1000 },
  'gpt-5-mini': { input: 25, output: 200 },
  'gpt-5-nano': { input: 5, output: 40 },
};

const prefixed = (provider: string, models: Record<string, ModelPrice>) => Object.fromEntries(Object.entries(models).map(([model, price]) => [`${provider}/${model}`, price]));

/** List prices in US cents per million tokens (input, output). */
export const DEFAULT_PRICES: PriceTable = {
  // Quotes passages without a language model: free, and never stopped by a budget.
  'extractive/*': { input: 0, output: 0 },
  ...prefixed('openai', OPENAI_MODELS),
  ...prefixed('azure-openai', OPENAI_MODELS),
  'anthropic/claude-3-5-haiku': { input: 80, output: 400 },
  'anthropic/claude-haiku-4-5': { input: 100, output: 500 },
  'anthropic/claude-3-7-sonnet': { input: 300, output: 1500 },
  'anthropic/claude-sonnet-4': { input: 300, output: 1500 },
  'anthropic/claude-sonnet-4-5': { input: 300, output: 1500 },
  'anthropic/claude-opus-4': { input: 1500, output: 7500 },
  'gemini/gemini-2.0-flash': { input: 10, output: 40 },
  'gemini/gemini-2.5-flash': { input: 30, output: 250 },
  'gemini/gemini-2.5-pro': { input: 125, output: 1000 },
  // Token prices only; Perplexity's per-request search fee is not in this estimate.
  'perplexity/sonar': { input: 100, output: 100 },
  'perplexity/sonar-pro': { input: 300, output: 1500 },
};

/** The defaults with the given entries replacing or adding to them. */
export function priceTable(overrides: PriceTable = {}): PriceTable {
  return { ...DEFAULT_PRICES, ...overrides };
}

export interface PriceLookup {
  price: ModelPrice;
  /** False when no entry matched: the call is counted as free and flagged. */
  known: boolean;
}

/** A version after a model name: a date or number (`-2024-07-18`, `-001`, `@20241022`), `-latest`, `-preview...`. */
const VERSION_SUFFIX = /^[-@](\d[\d-]*|latest|preview(-[\d-]+)?)$/;

/**
 * The price of `model` of `provider`: an exact entry; else the longest entry the model name
 * extends with a version suffix only (`gpt-4o-mini-2024-07-18` is `gpt-4o-mini`, not `gpt-4o`,
 * and `gpt-4o-mini-tts` is none of them); else the provider's `*` entry; else unknown (0).
 */
export function priceOf(table: PriceTable, provider: string, model: string): PriceLookup {
  const exact = table[`${provider}/${model}`];
  if (exact) return { price: exact, known: true };
  let best: { length: number; price: ModelPrice } | undefined;
  for (const [key, price] of Object.entries(table)) {
    const slash = key.indexOf('/');
    if (key.slice(0, slash) !== provider) continue;
    const base = key.slice(slash + 1);
    if (base === '*' || !model.startsWith(base)) continue;
    if (VERSION_SUFFIX.test(model.slice(base.length)) && (!best || base.length > best.length)) best = { length: base.length, price };
  }
  if (best) return { price: best.price, known: true };
  const wildcard = table[`${provider}/*`];
  if (wildcard) return { price: wildcard, known: true };
  return { price: { input: 0, output: 0 }, known: false };
}

/** A provider whose `*` entry costs nothing in and out is free: the budget never stops it. */
export function isFreeProvider(table: PriceTable, provider: string): boolean {
  const wildcard = table[`${provider}/*`];
  return !!wildcard && wildcard.input === 0 && wildcard.output === 0;
}

/** Cost of a call in millionths of the smallest currency unit (exact: tokens x cents per million). */
export function costMicros(price: ModelPrice, usage: { inputTokens: number; outputTokens: number }): number {
  return usage.inputTokens * price.input + usage.outputTokens * price.output;
}

/** Micros as cents for display (fractions of a cent kept). */
export function microsToCents(micros: number): number {
  return micros / 1_000_000;
}
