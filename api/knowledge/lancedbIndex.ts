/**
 * Embedded search index on LanceDB: one table for every workspace, each row keyed by workspace_id
 * and every query, update and delete filtered by it. Full-text BM25 runs over two copies of the
 * passage text, one analysed as English and one as Dutch (stemming, stop words, ascii folding),
 * so a question in either language matches passages in either.
 */
import fs from 'node:fs';
import * as lancedb from '@lancedb/lancedb';
import { Field, Int32, Schema, Utf8 } from 'apache-arrow';
import { fail } from '../errors';
import type { ChunkRecord, SearchHit, SearchIndex, SearchOptions } from './ports';

const TABLE = 'chunks';
const SEARCH_COLUMNS = { en: 'search_en', nl: 'search_nl' } as const;
/** Merge new rows into the FTS index once this many are waiting (they are searched flat until then). */
const OPTIMIZE_AFTER_ROWS = 5000;
/**
 * ...and in any case shortly after writes stop: rows left unmerged are searched without the
 * index, which measured 17-29x slower (bench/retrieval.ts), so a quiet index must not keep them.
 */
const OPTIMIZE_WHEN_IDLE_MS = 2000;

const schema = new Schema([
  new Field('id', new Utf8(), false),
  new Field('workspace_id', new Utf8(), false),
  new Field('document_id', new Utf8(), false),
  new Field('ordinal', new Int32(), false),
  new Field('title', new Utf8(), false),
  new Field('source_ref', new Utf8(), false),
  new Field('url', new Utf8(), true),
  new Field('heading', new Utf8(), true),
  new Field('language', new Utf8(), false),
  new Field('text', new Utf8(), false),
  new Field(SEARCH_COLUMNS.en, new Utf8(), false),
  new Field(SEARCH_COLUMNS.nl, new Utf8(), false),
]);

/** Ids reach a filter expression, so only this alphabet is accepted. */
function literal(id: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) fail('request_malformed', `Identifier not allowed in an index filter: ${JSON.stringify(id.slice(0, 40))}`);
  return `'${id}'`;
}

interface Row {
  id: string;
  workspace_id: string;
  document_id: string;
  ordinal: number;
  title: string;
  source_ref: string;
  url: string | null;
  heading: string | null;
  language: string;
  text: string;
  _score?: number;
}

export async function openLanceDbIndex(directory: string): Promise<SearchIndex> {
  fs.mkdirSync(directory, { recursive: true });
  const connection = await lancedb.connect(directory);
  const table = (await connection.tableNames()).includes(TABLE) ? await connection.openTable(TABLE) : await connection.createEmptyTable(TABLE, schema, { existOk: true });
  let indexed = (await table.listIndices()).length >= 2;
  let pendingRows = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const optimizeWhenIdle = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (pendingRows === 0 || !indexed) return;
      void serialise(async () => {
        await table.optimize();
        pendingRows = 0;
      }).catch(() => undefined);
    }, OPTIMIZE_WHEN_IDLE_MS);
    idleTimer.unref();
  };
  // LanceDB commits are optimistic; one writer per process keeps them from conflicting.
  let writes: Promise<unknown> = Promise.resolve();
  const serialise = <T>(work: () => Promise<T>): Promise<T> => {
    const next = writes.then(work, work);
    writes = next.catch(() => undefined);
    return next;
  };

  async function ensureIndexes(): Promise<void> {
    if (indexed) {
      if (pendingRows >= OPTIMIZE_AFTER_ROWS) {
        await table.optimize();
        pendingRows = 0;
      }
      return;
    }
    if ((await table.countRows()) === 0) return;
    const options = { stem: true, removeStopWords: true, asciiFolding: true, lowercase: true };
    await table.createIndex(SEARCH_COLUMNS.en, { config: lancedb.Index.fts({ ...options, language: 'English' }), replace: true });
    await table.createIndex(SEARCH_COLUMNS.nl, { config: lancedb.Index.fts({ ...options, language: 'Dutch' }), replace: true });
    indexed = true;
    pendingRows = 0;
  }

  // The mutating methods are async so that a refused identifier arrives as a rejected promise, as the
  // port promises, and not as a synchronous throw that `.catch()` or `Promise.all` would miss.
  const index: SearchIndex = {
    async replaceDocument(workspaceId, documentId, chunks) {
      const filter = `workspace_id = ${literal(workspaceId)} AND document_id = ${literal(documentId)}`;
      return serialise(async () => {
        await table.delete(filter);
        if (chunks.length > 0) {
          await table.add(chunks.map((c) => toRow(workspaceId, documentId, c)));
          pendingRows += chunks.length;
        }
        await ensureIndexes();
        if (pendingRows > 0) optimizeWhenIdle();
      });
    },
    async deleteDocument(workspaceId, documentId) {
      const filter = `workspace_id = ${literal(workspaceId)} AND document_id = ${literal(documentId)}`;
      return serialise(async () => {
        await table.delete(filter);
      });
    },
    async deleteWorkspace(workspaceId) {
      const filter = `workspace_id = ${literal(workspaceId)}`;
      return serialise(async () => {
        await table.delete(filter);
      });
    },
    async search(workspaceId, query, options: SearchOptions) {
      const words = query.trim();
      if (!words) return [];
      const rows = (await table
        .query()
        .fullTextSearch(new lancedb.MultiMatchQuery(words.slice(0, 2000), [SEARCH_COLUMNS.en, SEARCH_COLUMNS.nl]))
        .where(`workspace_id = ${literal(workspaceId)}`)
        .select(['id', 'workspace_id', 'document_id', 'ordinal', 'title', 'source_ref', 'url', 'heading', 'language', 'text', '_score'])
        .limit(options.limit)
        .toArray()) as Row[];
      // Belt and braces: the filter above is the guarantee; this makes a regression loud.
      return rows.filter((r) => r.workspace_id === workspaceId).map(toHit);
    },
    async countChunks(workspaceId, documentId) {
      const filter = `workspace_id = ${literal(workspaceId)}${documentId === undefined ? '' : ` AND document_id = ${literal(documentId)}`}`;
      return table.countRows(filter);
    },
    async ping() {
      await table.countRows();
    },
    async close() {
      clearTimeout(idleTimer);
      await writes;
      table.close();
      connection.close();
    },
  };
  return index;
}

function toRow(workspaceId: string, documentId: string, c: ChunkRecord): Record<string, unknown> {
  const searchable = [c.title, c.heading, c.text].filter(Boolean).join('\n');
  return {
    id: c.id,
    workspace_id: workspaceId,
    document_id: documentId,
    ordinal: c.ordinal,
    title: c.title,
    source_ref: c.sourceRef,
    url: c.url ?? null,
    heading: c.heading ?? null,
    language: c.language,
    text: c.text,
    [SEARCH_COLUMNS.en]: searchable,
    [SEARCH_COLUMNS.nl]: searchable,
  };
}

function toHit(r: Row): SearchHit {
  return {
    id: r.id,
    documentId: r.document_id,
    ordinal: r.ordinal,
    title: r.title,
    sourceRef: r.source_ref,
    url: r.url ?? undefined,
    heading: r.heading ?? undefined,
    language: r.language === 'nl' ? 'nl' : 'en',
    text: r.text,
    score: Number(r._score ?? 0),
  };
}
