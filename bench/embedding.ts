/**
 * Embeddings and LanceDB writes.
 *
 * 1. Writes. A sync writes one document at a time: N documents of 3 chunks each go into a fresh
 *    lexical LanceDB index through replaceDocument, once with compaction every 100 writes (the
 *    default) and once with compaction only by rows (every 5000) and when idle, as before. Per
 *    file: the mean of the first and of the last 10% of writes, and the whole run.
 * 2. Ingestion with embeddings. The demo corpus, synthesised into documents of 20 chunks, indexed
 *    lexically and then hybrid, the vectors coming from the Cohere adapter (real SDK, 96 texts a
 *    call) and the wire-format stand-in (tests/fakes/embeddingServer.ts) answering after a fixed
 *    latency, as a provider's round trip would. Chunks per second.
 * 3. Search. The same questions against the lexical and the hybrid table of the same rows
 *    (1024-dimensional vectors, flat cosine search, no vector index): p50/p95, with a reader in
 *    five groups, so the acl filter applies to both legs.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCohereEmbedder } from '../api/knowledge/embedding/cohereEmbedder';
import { openLanceDbIndex } from '../api/knowledge/lancedbIndex';
import type { ChunkRecord, SearchIndex } from '../api/knowledge/ports';
import { COHERE_DIMENSION, startFakeEmbeddingService } from '../tests/fakes/embeddingServer';
import { loadDemoDocuments, QUESTIONS, synthesiseDocument, type SeedDocument } from './corpus';
import { seededRandom, summarize, type BenchContext, type BenchResult, type Figure } from './stats';

const BENCH = 'embedding';
const SIZES = {
  // 10,000 files would take 15 minutes or more per variant on a 2-core machine at the measured rate.
  full: { writeFiles: 1_000, largeWriteFiles: 0, ingestDocuments: 250, searchDocuments: 1_000 },
  quick: { writeFiles: 300, largeWriteFiles: 0, ingestDocuments: 40, searchDocuments: 100 },
};
const CHUNKS_PER_WRITE = 3;
const CHUNKS_PER_DOCUMENT = 20;
const FAKE_LATENCY_MS = 50;
const SEARCH_LIMIT = 12;

function tempDir(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `kluis-bench-${label}-`));
}

async function timeWrites(files: number, compactAfterWrites: number, seeds: SeedDocument[]): Promise<{ totalS: number; firstMs: number; lastMs: number }> {
  const dir = tempDir('writes');
  const index = await openLanceDbIndex(dir, { compactAfterWrites });
  const random = seededRandom(7);
  const workspace = randomUUID();
  const perFile: number[] = [];
  try {
    const started = performance.now();
    for (let i = 0; i < files; i++) {
      const documentId = `file-${i}`;
      const chunks = synthesiseDocument(seeds[i % seeds.length]!, documentId, i, CHUNKS_PER_WRITE, random);
      const t = performance.now();
      await index.replaceDocument(workspace, documentId, chunks);
      perFile.push(performance.now() - t);
    }
    const totalS = (performance.now() - started) / 1000;
    const tenth = Math.max(1, Math.floor(files / 10));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    return { totalS, firstMs: mean(perFile.slice(0, tenth)), lastMs: mean(perFile.slice(-tenth)) };
  } finally {
    await index.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function corpus(seeds: SeedDocument[], documents: number): ChunkRecord[][] {
  const random = seededRandom(11);
  return Array.from({ length: documents }, (_, i) => synthesiseDocument(seeds[i % seeds.length]!, `doc-${i}`, i, CHUNKS_PER_DOCUMENT, random));
}

async function ingest(index: SearchIndex, workspace: string, documents: ChunkRecord[][]): Promise<number> {
  const started = performance.now();
  for (const chunks of documents) await index.replaceDocument(workspace, chunks[0]!.documentId, chunks);
  const chunks = documents.reduce((n, d) => n + d.length, 0);
  return chunks / ((performance.now() - started) / 1000);
}

async function searchTimes(index: SearchIndex, workspace: string, rounds: number): Promise<{ p50: number; p95: number }> {
  const reader = { userId: randomUUID(), groupIds: Array.from({ length: 5 }, () => randomUUID()) };
  for (const q of QUESTIONS.slice(0, 3)) await index.search(workspace, q, { limit: SEARCH_LIMIT, reader });
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const q of QUESTIONS) {
      const t = performance.now();
      await index.search(workspace, q, { limit: SEARCH_LIMIT, reader });
      samples.push(performance.now() - t);
    }
  }
  const s = summarize(samples);
  return { p50: s.p50, p95: s.p95 };
}

export async function runEmbedding(context: BenchContext): Promise<BenchResult> {
  const sizes = context.quick ? SIZES.quick : SIZES.full;
  const figures: Figure[] = [];
  const notes: string[] = [];
  const seeds = await loadDemoDocuments();

  // 1. Writes.
  const writeRuns: Array<[number, number]> = [[sizes.writeFiles, 100]];
  if (sizes.largeWriteFiles) writeRuns.push([sizes.largeWriteFiles, 100]);
  const before = await timeWrites(sizes.writeFiles, 0, seeds);
  context.log(`writes, ${sizes.writeFiles} files, compaction by rows only: ${before.totalS.toFixed(1)} s`);
  for (const [files, every] of writeRuns) {
    const after = await timeWrites(files, every, seeds);
    context.log(`writes, ${files} files, compaction every ${every} writes: ${after.totalS.toFixed(1)} s`);
    figures.push({ benchmark: BENCH, metric: `${files} files written (3 chunks each), compaction every ${every}`, value: after.totalS, unit: 's', baseline: files === sizes.writeFiles ? { label: 'compaction by rows only', value: before.totalS } : undefined });
    figures.push({ benchmark: BENCH, metric: `ms per file, last 10% of ${files}, compaction every ${every}`, value: after.lastMs, unit: 'ms', baseline: { label: 'first 10%', value: after.firstMs } });
  }
  figures.push({ benchmark: BENCH, metric: `ms per file, last 10% of ${sizes.writeFiles}, compaction by rows only`, value: before.lastMs, unit: 'ms', baseline: { label: 'first 10%', value: before.firstMs } });

  // 2. Ingestion with a fake embedder at a fixed latency, and 3. search.
  const service = await startFakeEmbeddingService('cohere', { latencyMs: FAKE_LATENCY_MS });
  const embedder = createCohereEmbedder({ apiKey: service.apiKey, baseUrl: service.baseUrl, model: 'embed-multilingual-v3.0', dimension: COHERE_DIMENSION, timeoutMs: 30_000, maxRetries: 2 });
  const lexicalDir = tempDir('lexical');
  const hybridDir = tempDir('hybrid');
  const lexical = await openLanceDbIndex(lexicalDir);
  const hybrid = await openLanceDbIndex(hybridDir, { embedder });
  try {
    const workspace = randomUUID();
    const ingestDocs = corpus(seeds, sizes.ingestDocuments);
    const lexicalRate = await ingest(lexical, workspace, ingestDocs);
    const hybridRate = await ingest(hybrid, workspace, ingestDocs);
    const calls = service.requests.length;
    context.log(`ingestion: lexical ${lexicalRate.toFixed(0)} chunks/s, hybrid ${hybridRate.toFixed(0)} chunks/s (${calls} embed calls at ${FAKE_LATENCY_MS} ms)`);
    figures.push({ benchmark: BENCH, metric: `ingestion, hybrid (Cohere stand-in, ${FAKE_LATENCY_MS} ms a call)`, value: hybridRate, unit: 'chunks/s', baseline: { label: 'lexical only', value: lexicalRate } });
    notes.push(`${BENCH}: ${ingestDocs.length} documents of ${CHUNKS_PER_DOCUMENT} chunks; one embed call per document (${calls} calls), so the rate is bound by the stand-in's ${FAKE_LATENCY_MS} ms latency.`);

    // Grow both tables to the search size (the rest are written without timing).
    const more = corpus(seeds, sizes.searchDocuments).slice(sizes.ingestDocuments).map((d, i) => d.map((c) => ({ ...c, id: `more-${i}:${c.ordinal}`, documentId: `more-${i}` })));
    service.setLatency(0);
    await ingest(lexical, workspace, more);
    await ingest(hybrid, workspace, more);
    const rows = await hybrid.countChunks(workspace);
    await new Promise((resolve) => setTimeout(resolve, 3000)); // let the idle merge bring every row into the FTS index
    const rounds = context.quick ? 3 : 10;
    const l = await searchTimes(lexical, workspace, rounds);
    service.setLatency(0);
    const h = await searchTimes(hybrid, workspace, rounds);
    context.log(`search at ${rows} chunks: lexical p50 ${l.p50.toFixed(1)} ms p95 ${l.p95.toFixed(1)} ms; hybrid p50 ${h.p50.toFixed(1)} ms p95 ${h.p95.toFixed(1)} ms`);
    figures.push({ benchmark: BENCH, metric: `search p50, hybrid, ${rows} chunks, reader with acl`, value: h.p50, unit: 'ms', baseline: { label: 'lexical p50', value: l.p50 } });
    figures.push({ benchmark: BENCH, metric: `search p95, hybrid, ${rows} chunks, reader with acl`, value: h.p95, unit: 'ms', baseline: { label: 'lexical p95', value: l.p95 } });
    notes.push(`${BENCH}: hybrid search includes the query embedding round trip to the local stand-in (no added latency) and a flat cosine scan of ${COHERE_DIMENSION}-dimensional vectors.`);
  } finally {
    await lexical.close();
    await hybrid.close();
    await service.close();
    fs.rmSync(lexicalDir, { recursive: true, force: true });
    fs.rmSync(hybridDir, { recursive: true, force: true });
  }
  return { figures, notes };
}
