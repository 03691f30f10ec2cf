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
 *
 * With an embedder each row also holds the vector of its passage, and a search is hybrid: a
 * cosine nearest-neighbour leg and the BM25 leg, each with the same workspace and acl `where`
 * (LanceDB prefilters a vector query's `where` too), fused by reciprocal rank. Without one the
 * index is lexical only and nothing leaves the machine. A file next to the table records which
 * embedder and dimension built it; opened with another, the table is dropped and built again by
 * the sources (see README, "Changing the embedder"), so vectors of two models never meet in a search.
 *
 * With data keys the `text` column holds each passage (with its title, heading, url and source)
 * sealed with its workspace's key (api/privacy/dataKeysText.ts), opened for the hits a search
 * returns. With token keys the two full-text columns hold keyed-hash tokens of the analysed words
 * instead of the words (`keyedTokens`), and a question is hashed the same way. Deleting a workspace
 * compacts the table at once, rebuilds the full-text indexes and removes every older version, so
 * its rows leave the disk (see README, "Workspace data keys").
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import * as lancedb from '@lancedb/lancedb';
import { DataType, Field, FixedSizeList, Float32, Int32, List, Schema, Utf8 } from 'apache-arrow';
import { fail } from '../errors';
import { passageSealer } from '../privacy/dataKeysText';
import type { SearchTokenKeys, WorkspaceDataKeys } from '../privacy/ports';
import { admission, isPrincipal, principalsOf, readerPrincipals, type Admission } from './acl';
import { checkDimension, checkEmbeddings, type Embedder } from './embedding/embedder';
import { readIndexBuild, sameBuild, writeIndexBuild, type IndexBuild } from './indexBuild';
import { fuseByReciprocalRank } from './rankFusion';
import type { ChunkRecord, SearchHit, SearchIndex, SearchOptions } from './ports';

const TABLE = 'chunks';
interface SearchColumns {
  en: string;
  nl: string;
}
/** The words, analysed by LanceDB (stemming, stop words, ascii folding per language). */
const WORD_COLUMNS: SearchColumns = { en: 'search_en', nl: 'search_nl' };
/** Keyed hashes of the analysed words (see `keyedTokens`), split on whitespace only. */
const TOKEN_COLUMNS: SearchColumns = { en: 'tokens_en', nl: 'tokens_nl' };
const ANALYSIS = { stem: true, removeStopWords: true, asciiFolding: true, lowercase: true } as const;
const LANGUAGES = { en: 'English', nl: 'Dutch' } as const;

/**
 * A text as keyed-hash tokens: LanceDB's own analyser for `language` (the one a word column's
 * index uses) turns it into stemmed words, and each word becomes the first 64 bits of its
 * HMAC-SHA-256 under the workspace's token key. Equal words give equal tokens, so BM25 ranks as
 * before; without the key a token says nothing about its word.
 */
async function keyedTokens(key: Buffer, text: string, language: keyof typeof LANGUAGES): Promise<string> {
  const words = await lancedb.tokenize(text, { ...ANALYSIS, language: LANGUAGES[language] });
  return words.map((w) => createHmac('sha256', key).update(w.text).digest('hex').slice(0, 16)).join(' ');
}
const ACL_COLUMN = 'acl_principals';
/** Merge new rows into the FTS index once this many are waiting (they are searched flat until then). */
const OPTIMIZE_AFTER_ROWS = 5000;
/**
 * ...or after this many writes, whatever their size. Every write (a replace is a delete and an
 * add) leaves fragments and deletion files that each later filtered delete and count must open,
 * so a sync of many small files slowed down with every file until the row threshold was reached;
 * compacting this often keeps a write's cost flat (bench/embedding.ts measures both).
 */
export const DEFAULT_COMPACT_AFTER_WRITES = 100;
/**
 * Table versions older than this are removed when the table is compacted. Each write is a version,
 * and a filtered delete slowed with their number (from 20 to 150 ms over 400 writes, measured); the
 * default keeps a week of them. Searches read the version they started on for milliseconds, so ten
 * seconds leaves every running one its files.
 */
const KEEP_VERSIONS_MS = 10_000;

/** Compacts fragments, drops deleted rows and old versions, and merges new rows into the FTS indexes. */
async function compact(table: lancedb.Table): Promise<void> {
  await table.optimize({ cleanupOlderThan: new Date(Date.now() - KEEP_VERSIONS_MS) });
}
/**
 * ...and in any case shortly after writes stop: rows left unmerged are searched without the
 * index, which measured 17-29x slower (bench/retrieval.ts), so a quiet index must not keep them.
 */
const OPTIMIZE_WHEN_IDLE_MS = 2000;

const VECTOR_COLUMN = 'vector';
/** Candidates each leg of a hybrid search brings to the fusion, at least. */
const HYBRID_CANDIDATES = 50;
/**
 * A nearest neighbour always exists, however unrelated; below this cosine similarity a passage is
 * not brought in by meaning alone (it can still come by its words). Multilingual embedding models
 * put unrelated passages well below it and paraphrases well above.
 */
export const DEFAULT_MIN_SIMILARITY = 0.3;

const lexicalFields = (columns: SearchColumns) => [
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
  new Field(columns.en, new Utf8(), false),
  new Field(columns.nl, new Utf8(), false),
  new Field(ACL_COLUMN, new List(new Field('item', new Utf8(), true)), false),
];

function schemaFor(dimension: number | undefined, columns: SearchColumns): Schema {
  if (dimension === undefined) return new Schema(lexicalFields(columns));
  return new Schema([...lexicalFields(columns), new Field(VECTOR_COLUMN, new FixedSizeList(dimension, new Field('item', new Float32(), true)), false)]);
}

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
 * chunks are missing on their next sync. So is a table whose search columns hold words when keyed
 * tokens are asked for, or the other way round: the two cannot answer each other's queries.
 */
async function openTable(connection: lancedb.Connection, dimension: number | undefined, columns: SearchColumns, rebuild: boolean): Promise<{ table: lancedb.Table; dropped: boolean }> {
  let dropped = false;
  if ((await connection.tableNames()).includes(TABLE)) {
    const table = await connection.openTable(TABLE);
    const fields = (await table.schema()).fields;
    const acl = fields.find((f) => f.name === ACL_COLUMN);
    const vector = fields.find((f) => f.name === VECTOR_COLUMN);
    const vectorFits = dimension === undefined ? vector === undefined : vector !== undefined && DataType.isFixedSizeList(vector.type) && vector.type.listSize === dimension;
    const searchFits = fields.some((f) => f.name === columns.en) && fields.some((f) => f.name === columns.nl);
    if (!rebuild && acl && DataType.isList(acl.type) && vectorFits && searchFits) return { table, dropped };
    table.close();
    await connection.dropTable(TABLE);
    dropped = true;
  }
  return { table: await connection.createEmptyTable(TABLE, schemaFor(dimension, columns), { existOk: true }), dropped };
}

export interface LanceDbIndexOptions {
  /** Adds a vector per chunk and hybrid search; absent, the index is lexical only (BM25). */
  embedder?: Embedder;
  /** Compact after this many writes (0: only by rows and when idle); defaults to `DEFAULT_COMPACT_AFTER_WRITES`. */
  compactAfterWrites?: number;
  /** Cosine similarity a passage needs to be found by meaning alone; defaults to `DEFAULT_MIN_SIMILARITY`. */
  minSimilarity?: number;
  /** Told when the folder held an index built otherwise (another embedder, none, or an old layout) and was emptied. */
  onRebuild?: (previous: IndexBuild | undefined, current: IndexBuild) => void;
  /** Seals each passage (text, title, heading, url, source) with its workspace's data key. */
  dataKeys?: WorkspaceDataKeys;
  /**
   * Stores keyed-hash tokens instead of words in the full-text columns (and hashes each query the
   * same way), so no word of a passage is at rest in plaintext and destroying the data key makes
   * the tokens unlinkable to words. Absent, the columns hold the words.
   */
  tokenKeys?: SearchTokenKeys;
}

export async function openLanceDbIndex(directory: string, options: LanceDbIndexOptions = {}): Promise<SearchIndex> {
  fs.mkdirSync(directory, { recursive: true });
  const embedder = options.embedder;
  const sealer = passageSealer(options.dataKeys);
  const tokenKeys = options.tokenKeys;
  const columns = tokenKeys ? TOKEN_COLUMNS : WORD_COLUMNS;
  const dimension = embedder ? checkDimension(embedder.dimension, `Embedder ${embedder.id}`) : undefined;
  const minSimilarity = options.minSimilarity ?? DEFAULT_MIN_SIMILARITY;
  if (!(minSimilarity >= -1 && minSimilarity <= 1)) fail('config_invalid', `Minimum similarity ${minSimilarity} is not between -1 and 1.`);
  const current: IndexBuild = { embedder: embedder?.id ?? null, dimension: dimension ?? null };
  const recorded = readIndexBuild(directory);
  const connection = await lancedb.connect(directory);
  // A folder without the record but with a table was built before embedders: lexical only.
  const hadTable = (await connection.tableNames()).includes(TABLE);
  const previous = recorded ?? (hadTable ? { embedder: null, dimension: null } : undefined);
  const { table, dropped } = await openTable(connection, dimension, columns, previous !== undefined && !sameBuild(previous, current));
  writeIndexBuild(directory, current);
  if (dropped) options.onRebuild?.(previous, current);
  let indexed = (await table.listIndices()).length >= 2;
  let pendingRows = 0;
  let writesSinceCompaction = 0;
  const compactAfterWrites = options.compactAfterWrites ?? DEFAULT_COMPACT_AFTER_WRITES;
  let idleTimer: NodeJS.Timeout | undefined;
  const optimizeWhenIdle = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      if (pendingRows === 0 || !indexed) return;
      void serialise(async () => {
        await compact(table);
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

  /** Called inside the write queue after every write. */
  async function afterWrite(): Promise<void> {
    writesSinceCompaction++;
    if (compactAfterWrites > 0 && writesSinceCompaction >= compactAfterWrites) {
      await compact(table);
      writesSinceCompaction = 0;
      if (indexed) pendingRows = 0;
    }
  }

  async function ensureIndexes(): Promise<void> {
    if (indexed) {
      if (pendingRows >= OPTIMIZE_AFTER_ROWS) {
        await compact(table);
        pendingRows = 0;
        writesSinceCompaction = 0;
      }
      return;
    }
    if ((await table.countRows()) === 0) return;
    if (tokenKeys) {
      // Tokens were analysed before hashing; the index must take them exactly as they are.
      const asIs = () => lancedb.Index.fts({ baseTokenizer: 'whitespace', stem: false, removeStopWords: false, asciiFolding: false, lowercase: false });
      await table.createIndex(columns.en, { config: asIs(), replace: true });
      await table.createIndex(columns.nl, { config: asIs(), replace: true });
    } else {
      await table.createIndex(columns.en, { config: lancedb.Index.fts({ ...ANALYSIS, language: LANGUAGES.en }), replace: true });
      await table.createIndex(columns.nl, { config: lancedb.Index.fts({ ...ANALYSIS, language: LANGUAGES.nl }), replace: true });
    }
    indexed = true;
    pendingRows = 0;
  }

  /**
   * An erasure must take the words off the disk now, not at the next compaction: rewrite the
   * fragments without the deleted rows, rebuild the full-text indexes (merging them would keep the
   * deleted rows' postings), and remove every older version with its files. A search still reading
   * an older version may fail once; it is asked again.
   */
  async function eraseDeletedRows(): Promise<void> {
    await table.optimize({ cleanupOlderThan: new Date() });
    if (indexed) {
      indexed = false;
      // An empty table gets no new index (ensureIndexes waits for rows), so the old one goes.
      if ((await table.countRows()) === 0) for (const i of await table.listIndices()) await table.dropIndex(i.name);
      else await ensureIndexes();
      await table.optimize({ cleanupOlderThan: new Date() });
    }
    pendingRows = 0;
    writesSinceCompaction = 0;
  }

  /**
   * The full-text query of a question: its words against both columns, or with keyed tokens the
   * question analysed per language and hashed with the workspace's key, each against its column.
   * Undefined when nothing of it is left to search for (stop words only).
   */
  async function lexicalQuery(workspaceId: string, words: string): Promise<lancedb.FullTextQuery | undefined> {
    if (!tokenKeys) return new lancedb.MultiMatchQuery(words, [columns.en, columns.nl]);
    const key = await tokenKeys.tokenKey(workspaceId);
    const legs: Array<[lancedb.Occur, lancedb.FullTextQuery]> = [];
    for (const language of ['en', 'nl'] as const) {
      const tokens = await keyedTokens(key, words, language);
      if (tokens) legs.push([lancedb.Occur.Should, new lancedb.MatchQuery(tokens, columns[language])]);
    }
    return legs.length === 0 ? undefined : new lancedb.BooleanQuery(legs);
  }

  const openHits = (workspaceId: string, hits: SearchHit[]) => Promise.all(hits.map((hit) => sealer.open(workspaceId, hit.id, hit)));

  // The mutating methods are async so that a refused identifier arrives as a rejected promise, as the
  // port promises, and not as a synchronous throw that `.catch()` or `Promise.all` would miss.
  const index: SearchIndex = {
    async replaceDocument(workspaceId, documentId, chunks) {
      const filter = `workspace_id = ${literal(workspaceId)} AND document_id = ${literal(documentId)}`;
      const key = tokenKeys && chunks.length > 0 ? await tokenKeys.tokenKey(workspaceId) : undefined;
      const rows = await Promise.all(
        chunks.map(async (c) => {
          const searchable = searchableText(c);
          const search = key ? { en: await keyedTokens(key, searchable, 'en'), nl: await keyedTokens(key, searchable, 'nl') } : { en: searchable, nl: searchable };
          return toRow(workspaceId, documentId, await sealer.seal(workspaceId, c.id, c), columns, search);
        }),
      );
      if (embedder && dimension !== undefined && rows.length > 0) {
        // Embedding is slow and touches no stored row, so it happens outside the write queue.
        const vectors = checkEmbeddings(await embedder.embedDocuments(chunks.map(searchableText)), rows.length, dimension);
        rows.forEach((row, i) => (row[VECTOR_COLUMN] = vectors[i]));
      }
      return serialise(async () => {
        await table.delete(filter);
        if (rows.length > 0) {
          await table.add(rows);
          pendingRows += chunks.length;
        }
        await ensureIndexes();
        await afterWrite();
        if (pendingRows > 0) optimizeWhenIdle();
      });
    },
    async deleteDocument(workspaceId, documentId) {
      const filter = `workspace_id = ${literal(workspaceId)} AND document_id = ${literal(documentId)}`;
      return serialise(async () => {
        await table.delete(filter);
        await afterWrite();
      });
    },
    async deleteWorkspace(workspaceId) {
      const filter = `workspace_id = ${literal(workspaceId)}`;
      return serialise(async () => {
        await table.delete(filter);
        await eraseDeletedRows();
      });
    },
    async search(workspaceId, query, options: SearchOptions) {
      // Both are checked before the query is looked at, so a hostile reader is refused every time.
      const where = `workspace_id = ${literal(workspaceId)}`;
      const principals = readerPrincipals(options.reader, options.candidates ?? false);
      const words = query.trim().slice(0, 2000);
      if (!words) return [];
      // One filter for both legs: the workspace and the reader's principals, applied before each limit.
      const filter = `${where} AND ${aclCondition(principals)}`;
      const allowed = new Set(principals);
      // Belt and braces: the filter is the guarantee; this makes a regression loud.
      const readable = (rows: Row[]) =>
        rows.flatMap((row) => {
          const access = row.workspace_id === workspaceId ? admission(row.acl_principals, allowed) : undefined;
          return access ? [{ row, access }] : [];
        });
      const textQuery = await lexicalQuery(workspaceId, words);
      const lexical = async (limit: number) =>
        textQuery === undefined
          ? []
          : readable((await table.query().fullTextSearch(textQuery).where(filter).select([...HIT_COLUMNS, '_score']).limit(limit).toArray()) as Row[]);
      // A query without a letter or digit means nothing to either leg.
      if (!embedder || dimension === undefined || !/[\p{L}\p{N}]/u.test(words)) return openHits(workspaceId, (await lexical(options.limit)).map(({ row, access }) => toHit(row, access)));

      const candidates = Math.max(options.limit, HYBRID_CANDIDATES);
      const [vector] = checkEmbeddings([await embedder.embedQuery(words)], 1, dimension);
      const [byWords, byMeaning] = await Promise.all([
        lexical(candidates),
        table
          .vectorSearch(vector!)
          .distanceType('cosine')
          .distanceRange(undefined, 1 - minSimilarity)
          .where(filter)
          .select([...HIT_COLUMNS, '_distance'])
          .limit(candidates)
          .toArray()
          .then((rows) => readable(rows as Row[])),
      ]);
      return openHits(
        workspaceId,
        fuseByReciprocalRank([byWords, byMeaning], (hit) => hit.row.id)
          .slice(0, options.limit)
          .map(({ item, score }) => ({ ...toHit(item.row, item.access), score })),
      );
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

const HIT_COLUMNS = ['id', 'workspace_id', 'document_id', 'ordinal', 'title', 'source_ref', 'url', 'heading', 'language', 'text', ACL_COLUMN];

/** Title and heading are searched with the passage. */
function searchableText(c: ChunkRecord): string {
  return [c.title, c.heading, c.text].filter(Boolean).join('\n');
}

function toRow(workspaceId: string, documentId: string, c: ChunkRecord, columns: SearchColumns, search: { en: string; nl: string }): Record<string, unknown> {
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
    [columns.en]: search.en,
    [columns.nl]: search.nl,
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
