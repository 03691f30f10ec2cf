/**
 * What sealing with workspace data keys costs.
 *
 * 1. Seal and open (AES-256-GCM with the cached data key, associated data built per call) of a
 *    4 KiB value (about a chunk's text), 1 MiB and 16 MiB (uploaded files). Baseline: a plain copy
 *    of the same bytes (`Buffer.from`), the least any store does with them.
 * 2. Ingesting the demo documents as an upload does below HTTP: extract, chunk, put the file in the
 *    encrypted folder store and replace its chunks in a LanceDB index. Sealed: the folder store
 *    behind the sealing decorator and the index with `dataKeys` and `tokenKeys` (passages sealed,
 *    full-text columns as keyed tokens). Baseline: the same without. Then a search (which hashes
 *    the question and opens every hit) against the same search without either.
 *
 * The key store is held in memory: with the cache, MySQL is asked once per workspace and TTL
 * (about 1 ms), which neither figure would show.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createEncryptedFolderStore } from '../api/files/encryptedFolderStore';
import type { BlobStore } from '../api/files/ports';
import { createSealedBlobStore } from '../api/files/sealedBlobStore';
import { chunkSections } from '../api/knowledge/chunk';
import { extractDocument, isSupportedFile } from '../api/knowledge/extract';
import { detectLanguage } from '../api/knowledge/language';
import { openLanceDbIndex } from '../api/knowledge/lancedbIndex';
import type { ChunkRecord, SearchIndex } from '../api/knowledge/ports';
import type { WorkspaceDataKeys } from '../api/privacy/ports';
import { memoryDataKeys } from '../tests/support/dataKeys';
import { DEMO_KNOWLEDGE_DIR, QUESTIONS } from './corpus';
import { summarize, type BenchContext, type BenchResult, type Figure } from './stats';

const BENCH = 'dataKeys';

function time(work: () => unknown): number {
  const started = performance.now();
  work();
  return performance.now() - started;
}

async function timeAsync(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function sealingFigures(keys: WorkspaceDataKeys, quick: boolean, log: (line: string) => void): Promise<Figure[]> {
  const ws = randomUUID();
  const figures: Figure[] = [];
  const sizes: Array<[string, number, number]> = [
    ['4 KiB', 4 * 1024, quick ? 500 : 5000],
    ['1 MiB', 1024 * 1024, quick ? 20 : 200],
    ['16 MiB', 16 * 1024 * 1024, quick ? 3 : 20],
  ];
  await keys.seal(ws, Buffer.from('warm-up'), 'bench');
  for (const [label, size, n] of sizes) {
    const plaintext = randomBytes(size);
    const seal: number[] = [];
    const open: number[] = [];
    const copy: number[] = [];
    let sealed = await keys.seal(ws, plaintext, 'bench');
    for (let i = 0; i < n; i++) {
      seal.push(await timeAsync(async () => (sealed = await keys.seal(ws, plaintext, 'bench'))));
      open.push(await timeAsync(() => keys.open(ws, sealed, 'bench')));
      copy.push(time(() => Buffer.from(plaintext)));
    }
    const [s, o, c] = [summarize(seal), summarize(open), summarize(copy)];
    const mbPerSecond = (ms: number) => (size / 1024 / 1024 / (ms / 1000)).toFixed(0);
    log(`  ${label}: seal p50 ${s.p50.toFixed(3)} ms (${mbPerSecond(s.p50)} MiB/s), open p50 ${o.p50.toFixed(3)} ms (${mbPerSecond(o.p50)} MiB/s), copy p50 ${c.p50.toFixed(3)} ms (${mbPerSecond(c.p50)} MiB/s), n=${n}`);
    figures.push(
      { benchmark: BENCH, metric: `seal ${label} p50`, value: s.p50, unit: 'ms', baseline: { label: `copy ${label} p50`, value: c.p50 }, note: `${mbPerSecond(s.p50)} MiB/s` },
      { benchmark: BENCH, metric: `open ${label} p50`, value: o.p50, unit: 'ms', baseline: { label: `copy ${label} p50`, value: c.p50 }, note: `${mbPerSecond(o.p50)} MiB/s` },
    );
  }
  return figures;
}

interface DemoFile {
  name: string;
  bytes: Buffer;
}

async function ingest(files: DemoFile[], rounds: number, blobs: BlobStore, index: SearchIndex, ws: string): Promise<number[]> {
  const perFile: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const file of files) {
      const documentId = `doc-${round}-${file.name.replace(/[^A-Za-z0-9]/g, '')}`;
      perFile.push(
        await timeAsync(async () => {
          const extracted = await extractDocument(file.name, file.bytes);
          const chunks: ChunkRecord[] = chunkSections(extracted.sections).map((c, ordinal) => ({ id: `${documentId}:${ordinal}`, documentId, ordinal, title: extracted.title, sourceRef: file.name, heading: c.heading, text: c.text, language: detectLanguage(c.text) }));
          await blobs.put(ws, `uploads/${documentId}`, file.bytes);
          await index.replaceDocument(ws, documentId, chunks);
        }),
      );
    }
  }
  return perFile;
}

export async function runDataKeys(context: BenchContext): Promise<BenchResult> {
  const { quick, log } = context;
  const keys = memoryDataKeys();
  const figures = await sealingFigures(keys, quick, log);

  const files = fs
    .readdirSync(DEMO_KNOWLEDGE_DIR)
    .filter(isSupportedFile)
    .sort()
    .map((name) => ({ name, bytes: fs.readFileSync(path.join(DEMO_KNOWLEDGE_DIR, name)) }));
  const rounds = quick ? 2 : 10;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-datakeys-'));
  try {
    const modes = [
      { label: 'plain', blobs: createEncryptedFolderStore(path.join(root, 'plain-blobs')), index: await openLanceDbIndex(path.join(root, 'plain-index')) },
      { label: 'sealed', blobs: createSealedBlobStore(createEncryptedFolderStore(path.join(root, 'sealed-blobs')), keys), index: await openLanceDbIndex(path.join(root, 'sealed-index'), { dataKeys: keys, tokenKeys: keys }) },
    ];
    const results = new Map<string, { ingest: number[]; search: number[] }>();
    for (const mode of modes) {
      const ws = randomUUID();
      // One round to warm the index (first FTS index build) that is not counted.
      await ingest(files, 1, mode.blobs, mode.index, ws);
      const perFile = await ingest(files, rounds, mode.blobs, mode.index, ws);
      const search: number[] = [];
      for (let i = 0; i < (quick ? 2 : 10); i++) for (const q of QUESTIONS) search.push(await timeAsync(() => mode.index.search(ws, q, { limit: 8 })));
      results.set(mode.label, { ingest: perFile, search });
      await mode.index.close();
    }
    const [plainIngest, sealedIngest] = [summarize(results.get('plain')!.ingest), summarize(results.get('sealed')!.ingest)];
    const [plainSearch, sealedSearch] = [summarize(results.get('plain')!.search), summarize(results.get('sealed')!.search)];
    log(`  ingest per file p50: plain ${plainIngest.p50.toFixed(1)} ms, sealed ${sealedIngest.p50.toFixed(1)} ms (${files.length} demo files x ${rounds} rounds)`);
    log(`  search p50: plain ${plainSearch.p50.toFixed(2)} ms, sealed ${sealedSearch.p50.toFixed(2)} ms`);
    figures.push(
      { benchmark: BENCH, metric: 'upload+index per file p50, sealed', value: sealedIngest.p50, unit: 'ms', baseline: { label: 'the same, not sealed', value: plainIngest.p50 } },
      { benchmark: BENCH, metric: 'upload+index per file p95, sealed', value: sealedIngest.p95, unit: 'ms', baseline: { label: 'the same, not sealed', value: plainIngest.p95 } },
      { benchmark: BENCH, metric: 'search p50 (8 hits opened), sealed', value: sealedSearch.p50, unit: 'ms', baseline: { label: 'the same, not sealed', value: plainSearch.p50 } },
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return {
    figures,
    notes: [
      `${BENCH}: seal/open with a cached data key (AES-256-GCM, workspace and context as associated data) against a plain Buffer copy of the same size.`,
      `${BENCH}: upload+index = extract, chunk, blob put (encrypted folder) and LanceDB replaceDocument per demo file, ${files.length} files x ${rounds} rounds after one warm-up round; sealed adds the data-key layer to the blob and the passage, and keyed tokens in the full-text columns. Key store in memory (MySQL is asked once per workspace and cache TTL).`,
    ],
  };
}
