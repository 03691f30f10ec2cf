/**
 * The three embedding adapters through their real SDKs against wire-format stand-ins: the shared
 * Embedder conformance suite, plus what each provider asks of its requests (Cohere's input types,
 * OpenAI's dimensions, Azure's deployment path, api-version and api-key header).
 */
import { isKluisError } from '../../api/errors';
import { COHERE_MAX_TEXTS, createCohereEmbedder } from '../../api/knowledge/embedding/cohereEmbedder';
import { createAzureOpenAiEmbedder, createOpenAiEmbedder } from '../../api/knowledge/embedding/openaiEmbedder';
import { embedderConformance, expectRejectedKey } from '../conformance/embedder.suite';
import { COHERE_DIMENSION, startFakeEmbeddingService } from '../fakes/embeddingServer';

const common = { timeoutMs: 10_000, maxRetries: 1 };

embedderConformance('Cohere (cohere-ai SDK)', async () => {
  const service = await startFakeEmbeddingService('cohere');
  const embedder = createCohereEmbedder({ ...common, apiKey: service.apiKey, baseUrl: service.baseUrl, model: 'embed-multilingual-v3.0', dimension: COHERE_DIMENSION });
  return { embedder, service, maxTextsPerCall: COHERE_MAX_TEXTS };
});

embedderConformance('OpenAI (openai SDK)', async () => {
  const service = await startFakeEmbeddingService('openai');
  const embedder = createOpenAiEmbedder({ ...common, apiKey: service.apiKey, baseUrl: service.baseUrl, model: 'text-embedding-3-small', dimension: 256 });
  return { embedder, service, maxTextsPerCall: 128 };
});

embedderConformance('Azure OpenAI (openai SDK, AzureOpenAI)', async () => {
  const service = await startFakeEmbeddingService('azure-openai');
  const embedder = createAzureOpenAiEmbedder({ ...common, apiKey: service.apiKey, endpoint: service.baseUrl, deployment: service.deployment, apiVersion: service.apiVersion, dimension: 512 });
  return { embedder, service, maxTextsPerCall: 128 };
});

describe('Cohere embedder requests', () => {
  it('sends passages as search_document and questions as search_query, float only, model named, id cohere:model', async () => {
    const service = await startFakeEmbeddingService('cohere');
    try {
      const embedder = createCohereEmbedder({ ...common, apiKey: service.apiKey, baseUrl: service.baseUrl, model: 'embed-multilingual-v3.0', dimension: COHERE_DIMENSION });
      expect(embedder.id).toBe('cohere:embed-multilingual-v3.0');
      await embedder.embedDocuments(['Het verlofbeleid staat in het handboek.']);
      await embedder.embedQuery('Waar staat het verlofbeleid?');
      expect(service.requests.map((r) => r.path)).toEqual(['/v2/embed', '/v2/embed']);
      expect(service.requests.map((r) => r.body.input_type)).toEqual(['search_document', 'search_query']);
      for (const r of service.requests) {
        expect(r.body.model).toBe('embed-multilingual-v3.0');
        expect(r.body.embedding_types).toEqual(['float']);
        expect(r.headers.authorization).toBe('[redacted]');
      }
    } finally {
      await service.close();
    }
  });

  it('a wrong key is embedding_rejected without the key in the error', async () => {
    const service = await startFakeEmbeddingService('cohere');
    try {
      const key = 'co-wrong-key-123456';
      await expectRejectedKey(createCohereEmbedder({ ...common, apiKey: key, baseUrl: service.baseUrl, model: 'embed-multilingual-v3.0', dimension: COHERE_DIMENSION }), key);
    } finally {
      await service.close();
    }
  });

  it('refuses an empty key or a nonsensical dimension at start-up', () => {
    for (const make of [
      () => createCohereEmbedder({ ...common, apiKey: ' ', model: 'embed-multilingual-v3.0', dimension: 1024 }),
      () => createCohereEmbedder({ ...common, apiKey: 'k', model: 'embed-multilingual-v3.0', dimension: 0 }),
      () => createCohereEmbedder({ ...common, apiKey: 'k', model: 'embed-multilingual-v3.0', dimension: 1.5 }),
    ]) {
      let error: unknown;
      try {
        make();
      } catch (e) {
        error = e;
      }
      expect(isKluisError(error, 'config_invalid')).toBe(true);
    }
  });
});

describe('OpenAI embedder requests', () => {
  it('sends the model, the dimensions and float encoding, with a bearer key; id openai:model', async () => {
    const service = await startFakeEmbeddingService('openai');
    try {
      const embedder = createOpenAiEmbedder({ ...common, apiKey: service.apiKey, baseUrl: service.baseUrl, model: 'text-embedding-3-small', dimension: 256 });
      expect(embedder.id).toBe('openai:text-embedding-3-small');
      await embedder.embedQuery('travel policy');
      const [request] = service.requests;
      expect(request?.path).toBe('/v1/embeddings');
      expect(request?.body).toEqual({ model: 'text-embedding-3-small', input: ['travel policy'], dimensions: 256, encoding_format: 'float' });
    } finally {
      await service.close();
    }
  });

  it('a wrong key is embedding_rejected without the key in the error', async () => {
    const service = await startFakeEmbeddingService('openai');
    try {
      const key = 'sk-wrong-key-123456';
      await expectRejectedKey(createOpenAiEmbedder({ ...common, apiKey: key, baseUrl: service.baseUrl, model: 'text-embedding-3-small', dimension: 256 }), key);
    } finally {
      await service.close();
    }
  });
});

describe('Azure OpenAI embedder requests', () => {
  it('posts to the deployment with api-version and the api-key header; id azure-openai:deployment', async () => {
    const service = await startFakeEmbeddingService('azure-openai');
    try {
      const embedder = createAzureOpenAiEmbedder({ ...common, apiKey: service.apiKey, endpoint: `${service.baseUrl}/`, deployment: service.deployment, apiVersion: service.apiVersion, dimension: 512 });
      expect(embedder.id).toBe(`azure-openai:${service.deployment}`);
      await embedder.embedQuery('travel policy');
      const [request] = service.requests;
      expect(request?.path).toBe(`/openai/deployments/${service.deployment}/embeddings`);
      expect(new URLSearchParams(request?.query).get('api-version')).toBe(service.apiVersion);
      expect(request?.headers['api-key']).toBe('[redacted]');
      expect(request?.headers.authorization).toBeUndefined();
      expect(request?.body.dimensions).toBe(512);
    } finally {
      await service.close();
    }
  });

  it('an unknown deployment is embedding_rejected', async () => {
    const service = await startFakeEmbeddingService('azure-openai');
    try {
      const embedder = createAzureOpenAiEmbedder({ ...common, apiKey: service.apiKey, endpoint: service.baseUrl, deployment: 'no-such-deployment', apiVersion: service.apiVersion, dimension: 512 });
      let error: unknown;
      await embedder.embedQuery('x').catch((e: unknown) => (error = e));
      expect(isKluisError(error, 'embedding_rejected')).toBe(true);
      expect((error as Error).message).toContain('404');
    } finally {
      await service.close();
    }
  });

  it('a wrong key is embedding_rejected without the key in the error', async () => {
    const service = await startFakeEmbeddingService('azure-openai');
    try {
      const key = 'azure-wrong-key-123456';
      await expectRejectedKey(createAzureOpenAiEmbedder({ ...common, apiKey: key, endpoint: service.baseUrl, deployment: service.deployment, apiVersion: service.apiVersion, dimension: 512 }), key);
    } finally {
      await service.close();
    }
  });

  it('refuses a deployment name that would change the path', () => {
    let error: unknown;
    try {
      createAzureOpenAiEmbedder({ ...common, apiKey: 'k', endpoint: 'https://x.openai.azure.com', deployment: '../../admin', apiVersion: '2024-10-21', dimension: 512 });
    } catch (e) {
      error = e;
    }
    expect(isKluisError(error, 'config_invalid')).toBe(true);
  });
});
