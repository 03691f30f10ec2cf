/**
 * What built a search index: the embedder's id and dimension, or none (lexical only). An index
 * keeps this record beside its data and compares it at start-up; a different record means the
 * stored vectors belong to another model (or are missing), so the index is emptied and rebuilt by
 * the sources rather than mixing vectors that cannot be compared.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors';

export interface IndexBuild {
  /** `provider:model`, or null for a lexical-only index. */
  embedder: string | null;
  dimension: number | null;
  /**
   * How the index's sparse term ids are made, for an index that stores them (Qdrant): absent for
   * unkeyed hashes of the words, the scheme of every record written before keyed ids, or
   * `KEYED_SPARSE_TERMS` for ids keyed per workspace (api/knowledge/sparseVector.ts). Ids of two
   * schemes never match each other, so a change empties the index like a change of embedder.
   */
  sparseTerms?: string;
}

/** The `sparseTerms` of an index whose term ids are keyed hashes under each workspace's token key. */
export const KEYED_SPARSE_TERMS = 'hmac-sha256-32';

const FILE = 'kluis-index.json';

export function sameBuild(a: IndexBuild, b: IndexBuild): boolean {
  return a.embedder === b.embedder && a.dimension === b.dimension && a.sparseTerms === b.sparseTerms;
}

/** The record in `directory`, or undefined when there is none. An unreadable record counts as another build. */
export function readIndexBuild(directory: string): IndexBuild | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(directory, FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    fail('store_unavailable', `The search index record ${FILE} cannot be read.`, { cause: error });
  }
  try {
    const parsed = JSON.parse(text) as Partial<IndexBuild>;
    const embedder = typeof parsed.embedder === 'string' ? parsed.embedder : null;
    const dimension = typeof parsed.dimension === 'number' ? parsed.dimension : null;
    return { embedder, dimension };
  } catch {
    return { embedder: 'unreadable', dimension: null };
  }
}

/** Written through a temporary file and a rename, so a crash never leaves half a record. */
export function writeIndexBuild(directory: string, build: IndexBuild): void {
  const target = path.join(directory, FILE);
  const temporary = `${target}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(build)}\n`);
  fs.renameSync(temporary, target);
}
