/**
 * The embedder port: text in, one vector per text out. Documents and questions go through
 * different calls because the models Kluis uses embed them differently (Cohere's input_type
 * search_document vs search_query); a model without that distinction treats both alike.
 *
 * An index records `id` and `dimension` of the embedder that built it, and rebuilds when either
 * changes, so vectors of two models never share one index. Without an embedder Kluis searches
 * lexically only (BM25), which needs nothing outside the organisation.
 *
 * One shared conformance suite (`tests/conformance/embedder.suite.ts`) runs against every adapter.
 */
import { fail } from '../../errors';

export interface Embedder {
  /** `provider:model`, e.g. `cohere:embed-multilingual-v3.0`; the index remembers it. */
  readonly id: string;
  /** Length of every vector this embedder returns. */
  readonly dimension: number;
  /** One vector per text, in the same order; batched and retried inside the adapter. */
  embedDocuments(texts: string[]): Promise<number[][]>;
  embedQuery(text: string): Promise<number[]>;
}

/** Largest dimension any index of Kluis accepts (Qdrant's own limit is 65,536). */
export const MAX_DIMENSION = 65536;

export function checkDimension(dimension: number, who: string): number {
  if (!Number.isInteger(dimension) || dimension < 1 || dimension > MAX_DIMENSION) fail('config_invalid', `${who}: embedding dimension ${String(dimension)} is not an integer between 1 and ${MAX_DIMENSION}.`);
  return dimension;
}

/**
 * Calls `embedBatch` on consecutive slices of at most `batchSize` texts, one after the other
 * (a burst of parallel calls would only meet the provider's rate limit sooner), and checks that
 * every slice came back with one vector of `dimension` finite numbers per text.
 */
export async function embedInBatches(texts: string[], batchSize: number, dimension: number, embedBatch: (batch: string[]) => Promise<unknown>): Promise<number[][]> {
  const vectors: number[][] = [];
  for (let start = 0; start < texts.length; start += batchSize) {
    const batch = texts.slice(start, start + batchSize);
    vectors.push(...checkEmbeddings(await embedBatch(batch), batch.length, dimension));
  }
  return vectors;
}

/** The answer as `count` vectors of `dimension` finite numbers, or `embedding_invalid`. */
export function checkEmbeddings(answer: unknown, count: number, dimension: number): number[][] {
  if (!Array.isArray(answer) || answer.length !== count) fail('embedding_invalid', `Asked for ${count} embeddings, got ${Array.isArray(answer) ? answer.length : typeof answer}.`);
  return answer.map((vector: unknown, i) => {
    if (!Array.isArray(vector) || vector.length !== dimension || !vector.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      fail('embedding_invalid', `Embedding ${i}: expected ${dimension} finite numbers, got ${Array.isArray(vector) ? `${vector.length} values` : typeof vector}.`);
    }
    return vector as number[];
  });
}

/** Seconds from a Retry-After header (delta seconds or an HTTP date), for the caller's own back-off. */
export function retryAfterSeconds(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}
