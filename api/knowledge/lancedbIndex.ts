/**
 * Embedded search index on LanceDB: one table for every workspace, each row keyed by workspace_id
 * and every query, update and delete filtered by it. Full-text BM25 runs over two copies of the
 * passage text, one analysed as English and one as Dutch (stemming, stop words, ascii folding),
 * so a question in either language matches passages in either.
 *
 * Each row also carries its acl as a list of principals (api/knowledge/acl.ts), and a search
 * keeps only the rows that list one of the reader's. The filter is applied before the limit
 * (LanceDB prefilters a full-text query's `where`), so passages the reader may not see can never
 * crowd out the ones they may.
 */
import fs from 'node:fs';
import * as lancedb from '@lancedb/lancedb';
import { DataType, Field, Int32, List, Schema, Utf8 } from 'apache-arrow';
import { fail } from '../errors';
import { admission, isPrincipal, principalsOf, readerPrincipals, type Admission } from './acl';
import type { ChunkRecord, SearchHit, SearchIndex, SearchOptions } from './ports';

const TABLE = 'chunks';
const SEARCH_COLUMNS = { en: 'search_en', nl: 'search_nl' } as const;
const ACL_COLUMN = 'acl_principals';
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
  new Field(ACL_COLUMN, new List(new Field('item', new Utf8(), true)), false),
]);

/** Ids reach a filter expression, so only this alphabet is accepted. */
function literal(id: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(id)) fail('request_malformed', `Identifier not allowed in an index filter: ${JSON.stringify(id.slice(0, 40))}`);
  return `'${id}'`;
}

/**
 * `array_has_any(acl_principals, make_array(...))`: true when the row's list shares an entry with
 * the reader's. Principals were validated by acl.ts; checking their shape again here keeps this
 * the one place that decides what reaches the filter text.
 */
function aclCondition(principals: string[]): string {
  for (const p of principals) if (!isPrincipal(p)) fail('request_malformed', `Principal not allowed in an index filter: ${JSON.stringify(String(p).slice(0, 40))}`);
  return `array_has_any(${ACL_COLUMN}, make_array(${principals.map((p) => `'${p}'`).join(', ')}))`;
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
  acl_principals: Iterable<unknown> | null;
  _score?: number;
}

/**
 * Opens the table, or creates it. A table written before rows carried their acl is dropped and
 * created anew, empty: an old row has no principals, so it would either match no search or have
 * to be guessed visible. The index is derived data, and the sources re-index every document whose
 * chunks are missing on their next sync.
 */
async function openTable(connection: lancedb.Connection): Promise<lancedb.Table> {
  if ((await connection.tableNames()).includes(TABLE)) {
    const table = await connection.openTable(TABLE);
    const acl = (await table.schema()).fields.find((f) => f.name === ACL_COLUMN);
    if (acl && DataType.isList(acl.type)) return table;
    table.close();
    await connection.dropTable(TABLE);
  }
  return connection.createEmptyTable(TABLE, schema, { existOk: true });
}

export async function openLanceDbIndex(directory: string): Promise<SearchIndex> {
  fs.mkdirSync(directory, { recursive: true });
  const connection = await lancedb.connect(directory);
  const table = await openTable(connection);
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
      const rows = chunks.map((c) => toRow(workspaceId, documentId, c));
      return serialise(async () => {
        await table.delete(filter);
        if (rows.length > 0) {
          await table.add(rows);
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
      // Both are checked before the query is looked at, so a hostile reader is refused every time.
      const where = `workspace_id = ${literal(workspaceId)}`;
      const principals = readerPrincipals(options.reader, options.candidates ?? false);
      const words = query.trim();
      if (!words) return [];
      const rows = (await table
        .query()
        .fullTextSearch(new lancedb.MultiMatchQuery(words.slice(0, 2000), [SEARCH_COLUMNS.en, SEARCH_COLUMNS.nl]))
        .where(`${where} AND ${aclCondition(principals)}`)
        .select(['id', 'workspace_id', 'document_id', 'ordinal', 'title', 'source_ref', 'url', 'heading', 'language', 'text', ACL_COLUMN, '_score'])
        .limit(options.limit)
        .toArray()) as Row[];
      // Belt and braces: the filter above is the guarantee; this makes a regression loud.
      const allowed = new Set(principals);
      return rows.flatMap((r) => {
        const access = r.workspace_id === workspaceId ? admission(r.acl_principals, allowed) : undefined;
        return access ? [toHit(r, access)] : [];
      });
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
    [ACL_COLUMN]: principalsOf(c.acl),
  };
}

function toHit(r: Row, access: Admission): SearchHit {
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
    access,
  };
}
