/**
 * The Embedder port's conformance suite: what every embedding adapter (Cohere, OpenAI, Azure
 * OpenAI, and those to come) must do, run through the real SDK against a stand-in that speaks the
 * provider's wire format (tests/fakes/embeddingServer.ts), including its throttling and failures.
 *
 * The adapter under test must be built with `maxRetries: 1`, so a persistent failure costs one
 * retry, and the stand-in's scripted replies apply to the next requests in order.
 */
import { isKluisError } from '../../api/errors';
import type { Embedder } from '../../api/knowledge/embedding/embedder';
import type { FakeEmbeddingService } from '../fakes/embeddingServer';

export interface EmbedderUnderTest {
  embedder: Embedder;
  service: FakeEmbeddingService;
  /** The most texts the provider takes in one call. */
  maxTextsPerCall: number;
}

export function cosine(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

async function rejection(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  return undefined;
}

export function embedderConformance(name: string, open: () => Promise<EmbedderUnderTest>) {
  describe(`Embedder conformance: ${name}`, () => {
    let subject: EmbedderUnderTest;
    beforeAll(async () => {
      subject = await open();
    });
    afterAll(async () => {
      await subject.service.close();
    });
    beforeEach(() => {
      subject.service.requests.length = 0;
    });

    it('names itself provider:model and returns vectors of its dimension', async () => {
      const { embedder } = subject;
      expect(embedder.id).toMatch(/^[a-z-]+:[^\s]+$/);
      const [vector] = await embedder.embedDocuments(['Hotel costs are reimbursed up to EUR 185 per night.']);
      expect(vector).toHaveLength(embedder.dimension);
      expect((await embedder.embedQuery('hotel rate')).length).toBe(embedder.dimension);
    });

    it('returns one vector per text, in the order of the texts', async () => {
      const a = 'The canteen opens at eight in the morning.';
      const b = 'Parking permits are issued by reception.';
      const [a1, b1] = await subject.embedder.embedDocuments([a, b]);
      const [b2, a2] = await subject.embedder.embedDocuments([b, a]);
      expect(a1).toEqual(a2);
      expect(b1).toEqual(b2);
      expect(a1).not.toEqual(b1);
    });

    it('puts a question nearer the passage that answers it than an unrelated one', async () => {
      const [hotel, meals] = await subject.embedder.embedDocuments(['Hotel costs in London are reimbursed per night.', 'Meal allowances are paid per working day.']);
      const question = await subject.embedder.embedQuery('How much hotel cost per night in London?');
      expect(cosine(question, hotel!)).toBeGreaterThan(cosine(question, meals!));
    });

    it(`splits many texts into calls the provider accepts and keeps them in order`, async () => {
      const texts = Array.from({ length: subject.maxTextsPerCall * 2 + 7 }, (_, i) => `Passage number ${i} about topic ${i % 13}.`);
      const vectors = await subject.embedder.embedDocuments(texts);
      expect(vectors).toHaveLength(texts.length);
      const calls = subject.service.requests.map((r) => (r.body.texts ?? r.body.input) as string[]);
      expect(calls.length).toBe(3);
      for (const call of calls) expect(call.length).toBeLessThanOrEqual(subject.maxTextsPerCall);
      expect(calls.flat()).toEqual(texts);
      const [single] = await subject.embedder.embedDocuments([texts[subject.maxTextsPerCall + 3]!]);
      expect(vectors[subject.maxTextsPerCall + 3]).toEqual(single);
    });

    it('asks nothing for no texts', async () => {
      expect(await subject.embedder.embedDocuments([])).toEqual([]);
      expect(subject.service.requests).toHaveLength(0);
    });

    it('embeds hostile and oversized text as text', async () => {
      const hostile = ['"}], "model": "other", "x": [{"', '\u0000\u202e<script>alert(1)</script>', 'ünïcödé 😀 '.repeat(2000)];
      const vectors = await subject.embedder.embedDocuments(hostile);
      expect(vectors).toHaveLength(3);
      const sent = subject.service.requests.map((r) => (r.body.texts ?? r.body.input) as string[]).flat();
      expect(sent).toEqual(hostile);
    });

    it('waits out a 429 with Retry-After and then succeeds (the SDK retry)', async () => {
      subject.service.enqueue({ kind: 'rate-limit', retryAfterSeconds: 1 });
      const vector = await subject.embedder.embedQuery('retry after throttling');
      expect(vector).toHaveLength(subject.embedder.dimension);
      expect(subject.service.requests).toHaveLength(2);
    });

    it('throttled past its retries: embedding_unavailable carrying the Retry-After', async () => {
      subject.service.enqueue({ kind: 'rate-limit', retryAfterSeconds: 1 }, { kind: 'rate-limit', retryAfterSeconds: 1 });
      const error = await rejection(() => subject.embedder.embedDocuments(['still throttled']));
      expect(isKluisError(error, 'embedding_unavailable')).toBe(true);
      expect((error as { retryAfterSeconds?: number }).retryAfterSeconds).toBe(1);
      expect(subject.service.requests).toHaveLength(2);
    });

    it('a server error past its retries: embedding_unavailable', async () => {
      subject.service.enqueue({ kind: 'server-error' }, { kind: 'server-error' });
      const error = await rejection(() => subject.embedder.embedQuery('server down'));
      expect(isKluisError(error, 'embedding_unavailable')).toBe(true);
    });

    it('recovers from one server error', async () => {
      subject.service.enqueue({ kind: 'server-error' });
      expect(await subject.embedder.embedQuery('server hiccup')).toHaveLength(subject.embedder.dimension);
    });

    it('a body that is not JSON: embedding_invalid', async () => {
      subject.service.enqueue({ kind: 'malformed' });
      const error = await rejection(() => subject.embedder.embedQuery('malformed answer'));
      expect(isKluisError(error, 'embedding_invalid')).toBe(true);
    });

    it('vectors of the wrong size or too few vectors: embedding_invalid', async () => {
      subject.service.enqueue({ kind: 'wrong-dimension' });
      expect(isKluisError(await rejection(() => subject.embedder.embedDocuments(['a', 'b'])), 'embedding_invalid')).toBe(true);
      subject.service.enqueue({ kind: 'missing-vector' });
      expect(isKluisError(await rejection(() => subject.embedder.embedDocuments(['a', 'b'])), 'embedding_invalid')).toBe(true);
    });
  });
}

/** A refused key is `embedding_rejected`, and the key appears nowhere in the error. */
export async function expectRejectedKey(embedder: Embedder, key: string): Promise<void> {
  const error = await rejection(() => embedder.embedQuery('who am I'));
  expect(isKluisError(error, 'embedding_rejected')).toBe(true);
  expect(JSON.stringify({ message: (error as Error).message, stack: (error as Error).stack })).not.toContain(key);
}
