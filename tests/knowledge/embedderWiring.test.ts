/**
 * The composition root with EMBEDDER=cohere: the demo folder is embedded as documents through the
 * Cohere SDK at start-up, a search embeds its question as a query, and the index records the
 * embedder (rebuilds on a change of embedder are proven in lancedbIndex.test.ts and sharepointSync.test.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startTestKluis } from '../support/kluis';
import { startFakeEmbeddingService, type FakeEmbeddingService } from '../fakes/embeddingServer';

let cohere: FakeEmbeddingService;

beforeAll(async () => {
  cohere = await startFakeEmbeddingService('cohere');
});

afterAll(async () => {
  await cohere.close();
});

it('EMBEDDER=cohere embeds the folder as documents and each question as a query, and the index records the embedder', async () => {
  const tenantId = randomUUID();
  const env = { LOCAL_TENANT_ID: tenantId, KNOWLEDGE_DIR: 'demo/knowledge', EMBEDDER: 'cohere', COHERE_API_KEY: cohere.apiKey, COHERE_BASE_URL: cohere.baseUrl, EMBEDDING_MAX_RETRIES: '1' };
  const kluis = await startTestKluis(env);
  try {
    expect(kluis.initialSync?.indexed).toBeGreaterThan(0);
    expect(kluis.initialSync?.failed).toEqual([]);
    const documentCalls = cohere.requests.filter((r) => r.body?.input_type === 'search_document');
    expect(documentCalls.length).toBeGreaterThanOrEqual(kluis.initialSync!.indexed);
    expect(documentCalls.every((r) => r.path === '/v2/embed' && r.body.model === 'embed-multilingual-v3.0')).toBe(true);
    const indexDir = path.join(kluis.dataDir, 'index');
    expect(JSON.parse(fs.readFileSync(path.join(indexDir, 'kluis-index.json'), 'utf8'))).toEqual({ embedder: 'cohere:embed-multilingual-v3.0', dimension: 1024 });

    const workspace = (await kluis.modules.directory.findByTenant(tenantId))!;
    const before = cohere.requests.length;
    const hits = await kluis.modules.index.search(workspace.id, 'hotel limit per night', { limit: 3 });
    expect(hits.length).toBeGreaterThan(0);
    expect(cohere.requests.slice(before).map((r) => r.body?.input_type)).toEqual(['search_query']);
  } finally {
    await kluis.stop();
  }
});
