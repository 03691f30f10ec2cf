/** The knowledge module's face to the rest of Kluis: search within the asker's workspace only. */
import type { Principal } from '../tenancy/principal';
import type { Reader, SearchHit, SearchIndex } from './ports';
import { coverage } from './relevance';

export interface Knowledge {
  /** The best passages for a question, relevant ones only; empty when nothing answers it. */
  search(principal: Principal, question: string, limit: number): Promise<SearchHit[]>;
}

export interface KnowledgeOptions {
  /** Minimum share of the question's content words a passage must contain (0..1). */
  minCoverage: number;
}

/**
 * Who the asker is to SharePoint: their Entra object id and group ids, so the index returns only
 * passages of files they may read. Undefined (people outside Microsoft 365) means workspace-wide
 * passages only.
 */
export interface ReaderResolver {
  readerFor(principal: Principal): Promise<Reader | undefined>;
}

export function createKnowledge(deps: { index: SearchIndex; readers: ReaderResolver }, options: KnowledgeOptions): Knowledge {
  return {
    async search(principal, question, limit) {
      const reader = await deps.readers.readerFor(principal);
      // Ask the index for more than needed: the relevance gate may drop some.
      const hits = await deps.index.search(principal.workspaceId, question, { limit: limit * 3, reader });
      return hits.filter((h) => coverage(question, [h.title, h.heading, h.text].filter(Boolean).join(' ')) >= options.minCoverage).slice(0, limit);
    },
  };
}
