/** The knowledge module's face to the rest of Kluis: search within the asker's workspace only. */
import type { Principal } from '../tenancy/principal';
import type { SearchHit, SearchIndex } from './ports';
import { coverage } from './relevance';

export interface Knowledge {
  /** The best passages for a question, relevant ones only; empty when nothing answers it. */
  search(principal: Principal, question: string, limit: number): Promise<SearchHit[]>;
}

export interface KnowledgeOptions {
  /** Minimum share of the question's content words a passage must contain (0..1). */
  minCoverage: number;
}

export function createKnowledge(deps: { index: SearchIndex }, options: KnowledgeOptions): Knowledge {
  return {
    async search(principal, question, limit) {
      // Ask the index for more than needed: the relevance gate may drop some.
      const hits = await deps.index.search(principal.workspaceId, question, { limit: limit * 3 });
      return hits.filter((h) => coverage(question, [h.title, h.heading, h.text].filter(Boolean).join(' ')) >= options.minCoverage).slice(0, limit);
    },
  };
}
