import { DEFAULT_PRICES, costMicros, isFreeProvider, microsToCents, priceOf, priceTable } from './pricing';

describe('price table', () => {
  it('computes cost exactly in millionths of a cent: tokens x cents per million', () => {
    // gpt-4o-mini: 15 cents in, 60 cents out per million tokens.
    const micros = costMicros({ input: 15, output: 60 }, { inputTokens: 1234, outputTokens: 567 });
    expect(micros).toBe(1234 * 15 + 567 * 60);
    expect(microsToCents(micros)).toBeCloseTo(0.05253, 10);
    // A million calls of one token each add up to the same as one call of a million tokens.
    let sum = 0;
    for (let i = 0; i < 1_000_000; i++) sum += costMicros({ input: 15, output: 60 }, { inputTokens: 1, outputTokens: 0 });
    expect(microsToCents(sum)).toBe(15);
  });

  it('keeps a month of heavy use within exact integer arithmetic', () => {
    const micros = costMicros({ input: 1500, output: 7500 }, { inputTokens: 200_000_000, outputTokens: 50_000_000 });
    expect(Number.isSafeInteger(micros)).toBe(true);
    expect(microsToCents(micros)).toBe(300_000 + 375_000);
  });

  it('prices a dated snapshot by its base model, the longest matching name first', () => {
    expect(priceOf(DEFAULT_PRICES, 'openai', 'gpt-4o-mini-2024-07-18')).toEqual({ price: { input: 15, output: 60 }, known: true });
    expect(priceOf(DEFAULT_PRICES, 'openai', 'gpt-4o-2024-08-06')).toEqual({ price: { input: 250, output: 1000 }, known: true });
    expect(priceOf(DEFAULT_PRICES, 'openai', 'gpt-4.1-nano-2025-04-14').price).toEqual({ input: 10, output: 40 });
    expect(priceOf(DEFAULT_PRICES, 'anthropic', 'claude-3-5-haiku-20241022').price).toEqual({ input: 80, output: 400 });
    expect(priceOf(DEFAULT_PRICES, 'anthropic', 'claude-sonnet-4-5-20250929').price).toEqual({ input: 300, output: 1500 });
    expect(priceOf(DEFAULT_PRICES, 'gemini', 'gemini-2.0-flash-001').price).toEqual({ input: 10, output: 40 });
  });

  it('does not take a different model for a longer name (gpt-4o-mini-tts is neither gpt-4o-mini nor gpt-4o)', () => {
    expect(priceOf(DEFAULT_PRICES, 'openai', 'gpt-4o-mini-tts').known).toBe(false);
    expect(priceOf(DEFAULT_PRICES, 'openai', 'gpt-4o-minimal').known).toBe(false);
    expect(priceOf(DEFAULT_PRICES, 'openai', 'gpt-4omni').known).toBe(false);
  });

  it('counts an unknown model or provider as free and says it is unknown', () => {
    expect(priceOf(DEFAULT_PRICES, 'openai', 'my-finetune')).toEqual({ price: { input: 0, output: 0 }, known: false });
    expect(priceOf(DEFAULT_PRICES, 'someone-else', 'gpt-4o-mini')).toEqual({ price: { input: 0, output: 0 }, known: false });
  });

  it('does not let one provider\'s prices apply to another provider of the same model name', () => {
    const table = priceTable({ 'openai/shared-name': { input: 100, output: 100 } });
    expect(priceOf(table, 'perplexity', 'shared-name').known).toBe(false);
  });

  it('lets settings override a default, add a model and price a whole provider with *', () => {
    const table = priceTable({ 'openai/gpt-4o-mini': { input: 14, output: 55 }, 'azure-openai/*': { input: 20, output: 80 }, 'openai/my-finetune': { input: 30, output: 120 } });
    expect(priceOf(table, 'openai', 'gpt-4o-mini').price).toEqual({ input: 14, output: 55 });
    expect(priceOf(table, 'openai', 'my-finetune').price).toEqual({ input: 30, output: 120 });
    // A model-specific entry wins over the provider's *.
    expect(priceOf(table, 'azure-openai', 'gpt-4o').price).toEqual({ input: 250, output: 1000 });
    expect(priceOf(table, 'azure-openai', 'my-deployment')).toEqual({ price: { input: 20, output: 80 }, known: true });
    expect(priceOf(DEFAULT_PRICES, 'openai', 'gpt-4o-mini').price).toEqual({ input: 15, output: 60 });
  });

  it('treats the extractive provider as free, and a paid provider as paid', () => {
    expect(isFreeProvider(DEFAULT_PRICES, 'extractive')).toBe(true);
    expect(isFreeProvider(DEFAULT_PRICES, 'openai')).toBe(false);
    expect(isFreeProvider(DEFAULT_PRICES, 'unheard-of')).toBe(false);
    expect(isFreeProvider(priceTable({ 'onprem/*': { input: 0, output: 0 } }), 'onprem')).toBe(true);
    expect(isFreeProvider(priceTable({ 'onprem/*': { input: 0, output: 1 } }), 'onprem')).toBe(false);
  });

  it('has whole, non-negative prices only', () => {
    for (const price of Object.values(DEFAULT_PRICES)) {
      expect(Number.isInteger(price.input) && price.input >= 0).toBe(true);
      expect(Number.isInteger(price.output) && price.output >= 0).toBe(true);
    }
  });
});
