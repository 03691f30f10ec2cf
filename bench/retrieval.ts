/**
 * Retrieval: full-text search latency of the LanceDB index as one workspace grows from 1k to 100k
 * chunks while nine other workspaces share the table, and how fast chunks go in.
 *
 * The adapter indexes new rows into the FTS index only after 5000 of them are pending; until then
 * they are searched flat. So each size is measured twice: as the adapter left it (some rows not
 * merged yet) and with every row merged, reached by adding padding rows to the other workspaces
 * until the adapter's own threshold triggers the merge. Everything goes through the SearchIndex
 * port; a separate read-only connection only reads the index statistics to report what is merged.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { openLanceDbIndex } from '../api/knowledge/lancedbIndex';
import type { SearchIndex } from '../api/knowledge/ports';
import { loadDemoDocuments, QUESTIONS, synthesiseDocument, type SeedDocument } from './corpus';
import { seededRandom, summarize, type BenchContext, type BenchResult, type Figure, type Summary } from './stats';

const WORKSPACES = 10;
const CHUNKS_PER_DOCUMENT = 100;
/** Mirrors the adapter's merge threshold; only used to size the padding, and checked afterwards. */
const ADAPTER_MERGE_AFTER_ROWS = 5000;
/** What the knowledge module asks the index for with the default RETRIEVAL_TOP_K of 4 (4 x 3). */
const SEARCH_LIMIT = 12;

const sizeLabel = (n: number) => (n >= 1000 ? `${n / 1000}k` : String(n));

export async function runRetrieval(context: BenchContext): Promise<BenchResult> {
  const sizes = context.quick ? [1_000, 10_000] : [1_000, 100_000];
  const otherChunks = context.quick ? 200 : 1_000;
  const searches = context.quick ? 50 : 200;
  const log = context.log;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-index-'));
  const seeds = await loadDemoDocuments();
  const random = seededRandom(20250301);
  const workspaces = Array.from({ length: WORKSPACES }, (_, i) => `bench-ws-${i}`);
  const target = workspaces[0]!;
  const others = workspaces.slice(1);
  const documentsWritten = new Map<string, number>();
  // Grouped so the table reads: latency by size, then the cost of unmerged rows, then indexing.
  const latency: Figure[] = [];
  const unmerged: Figure[] = [];
  const indexing: Figure[] = [];
  const notes: string[] = [];
  let index: SearchIndex | undefined;

  /** Adds `count` chunks to a workspace in documents of 100; returns seconds spent in the index only. */
  const fill = async (workspace: string, count: number, seedOffset = 0): Promise<number> => {
    let spentMs = 0;
    for (let added = 0; added < count; added += CHUNKS_PER_DOCUMENT) {
      const n = documentsWritten.get(workspace) ?? 0;
      documentsWritten.set(workspace, n + 1);
      const seed: SeedDocument = seeds[(n + seedOffset) % seeds.length]!;
      const documentId = `${workspace}-doc-${n}`;
      const chunks = synthesiseDocument(seed, documentId, n, Math.min(CHUNKS_PER_DOCUMENT, count - added), random);
      const started = performance.now();
      await index!.replaceDocument(workspace, documentId, chunks);
      spentMs += performance.now() - started;
    }
    return spentMs / 1000;
  };

  const measureSearches = async (): Promise<{ summary: Summary; meanHits: number; empty: number }> => {
    // One untimed pass: the first queries open index files and fill caches.
    for (const q of QUESTIONS) await index!.search(target, q, { limit: SEARCH_LIMIT });
    const samples: number[] = [];
    let hits = 0;
    let empty = 0;
    for (let i = 0; i < searches; i++) {
      const question = QUESTIONS[i % QUESTIONS.length]!;
      const started = performance.now();
      const result = await index!.search(target, question, { limit: SEARCH_LIMIT });
      samples.push(performance.now() - started);
      hits += result.length;
      if (result.length === 0) empty++;
      if (result.some((h) => !h.documentId.startsWith(`${target}-`))) throw new Error('A search returned a chunk of another workspace');
    }
    return { summary: summarize(samples), meanHits: hits / searches, empty };
  };

  try {
    index = await openLanceDbIndex(dir);
    let othersSeconds = 0;
    for (const [i, workspace] of others.entries()) othersSeconds += await fill(workspace, otherChunks, i);
    const othersRate = (others.length * otherChunks) / othersSeconds;
    log(`  ${others.length} other workspaces x ${otherChunks} chunks: ${othersSeconds.toFixed(1)} s in replaceDocument (${othersRate.toFixed(0)} chunks/s)`);

    let inTarget = 0;
    const merged: Summary[] = [];
    let padded = 0;
    for (const size of sizes) {
      const label = sizeLabel(size);
      const seconds = await fill(target, size - inTarget);
      const rate = (size - inTarget) / seconds;
      log(`  target filled ${sizeLabel(inTarget)} -> ${label}: ${seconds.toFixed(1)} s in replaceDocument (${rate.toFixed(0)} chunks/s)`);
      const counted = await index.countChunks(target);
      if (counted !== size) throw new Error(`Target workspace holds ${counted} chunks, expected ${size}`);

      const pending = await unmergedRows(dir);
      const asLeft = await measureSearches();
      log(`  ${label}: as left by the adapter (${pending} rows not merged): p50 ${asLeft.summary.p50.toFixed(2)} ms, p95 ${asLeft.summary.p95.toFixed(2)} ms`);

      // Padding goes to the other workspaces, so the target keeps exactly `size` chunks.
      if (pending > 0) {
        const pad = ADAPTER_MERGE_AFTER_ROWS - pending;
        if (pad > 0) await fill(others[size % others.length]!, pad, 3);
        padded += Math.max(pad, 0);
      }
      const stillPending = await unmergedRows(dir);
      const full = await measureSearches();
      merged.push(full.summary);
      log(`  ${label}: all rows merged (${stillPending} not merged): p50 ${full.summary.p50.toFixed(2)} ms, p95 ${full.summary.p95.toFixed(2)} ms, ${full.meanHits.toFixed(1)} hits/search, ${full.empty} empty`);
      if (stillPending > 0) notes.push(`retrieval: ${stillPending} rows were still not merged at ${label} after padding; the "merged" figures include a flat scan of them.`);
      if (full.empty > 0) notes.push(`retrieval: ${full.empty} of ${searches} searches at ${label} found nothing.`);

      const first = merged[0]!;
      const isFirst = merged.length === 1;
      const base = isFirst ? undefined : sizeLabel(sizes[0]!);
      latency.push(
        { benchmark: 'retrieval', metric: `search p50, ${label} chunks in workspace`, value: full.summary.p50, unit: 'ms', baseline: isFirst ? undefined : { label: `p50 at ${base}`, value: first.p50 } },
        { benchmark: 'retrieval', metric: `search p95, ${label} chunks in workspace`, value: full.summary.p95, unit: 'ms', baseline: isFirst ? undefined : { label: `p95 at ${base}`, value: first.p95 } },
      );
      unmerged.push({
        benchmark: 'retrieval',
        metric: `search p50, ${label}, ${pending} rows not yet merged`,
        value: asLeft.summary.p50,
        unit: 'ms',
        baseline: { label: `p50 at ${label}, all merged`, value: full.summary.p50 },
      });
      indexing.push({
        benchmark: 'retrieval',
        metric: `index rate, target ${sizeLabel(inTarget)} -> ${label}`,
        value: rate,
        unit: 'chunks/s',
        // The other workspaces' fill is the baseline: the same code path while the table is small,
        // over more calls than the target's first 1k, so less noisy.
        baseline: { label: `rate, ${others.length} other workspaces' ${sizeLabel(others.length * otherChunks)}`, value: othersRate },
        note: `${seconds.toFixed(1)} s`,
      });
      inTarget = size;
    }
    const total = await countAllRows(dir);
    notes.push(
      `retrieval: table holds ${total} rows in ${WORKSPACES} workspaces (target ${sizes[sizes.length - 1]}, others ${otherChunks} each plus ${padded} padding rows); ${searches} searches per series, limit ${SEARCH_LIMIT}, each series after one untimed pass over the ${QUESTIONS.length} questions. "All merged": every row in the FTS index, reached by padding the other workspaces until the adapter's ${ADAPTER_MERGE_AFTER_ROWS}-row merge ran; "not yet merged": the table as the adapter left it after the fill, those rows searched flat.`,
    );
    return { figures: [...latency, ...unmerged, ...indexing], notes };
  } finally {
    await index?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Rows the FTS indexes do not cover yet (the larger of the English and Dutch index). */
async function unmergedRows(dir: string): Promise<number> {
  return withTable(dir, async (table) => {
    let most = 0;
    for (const index of await table.listIndices()) most = Math.max(most, (await table.indexStats(index.name))?.numUnindexedRows ?? 0);
    return most;
  });
}

async function countAllRows(dir: string): Promise<number> {
  return withTable(dir, (table) => table.countRows());
}

async function withTable<T>(dir: string, work: (table: lancedb.Table) => Promise<T>): Promise<T> {
  const connection = await lancedb.connect(dir);
  const [name] = await connection.tableNames();
  if (!name) throw new Error('The index has no table');
  const table = await connection.openTable(name);
  try {
    return await work(table);
  } finally {
    table.close();
    connection.close();
  }
}
