/**
 * The knowledge module's face to the rest of Kluis: search within the asker's workspace only,
 * trimmed to what the asker may read. With the asker's own delegated access to the source
 * (`DelegatedAccess`), the final hits are also confirmed live (liveCheck.ts), which drops files the
 * asker lost access to since the last sync and admits files shared only with groups Kluis cannot
 * list (SharePoint site groups), when the source says the asker may open them.
 */
import { tracing } from '../operations/tracing';
import type { Principal } from '../tenancy/principal';
import { keepOpenable, withoutCandidates } from './liveCheck';
import type { DelegatedAccess, Reader, SearchHit, SearchIndex } from './ports';
import { coverage } from './relevance';

export interface Knowledge {
  /**
   * The best passages for a question, relevant ones only; empty when nothing answers it.
   * `access`: the asker's own access to the source for this request, when the channel has it.
   */
  search(principal: Principal, question: string, limit: number, access?: DelegatedAccess): Promise<SearchHit[]>;
}

export interface KnowledgeOptions {
  /** Minimum share of the question's content words a passage must contain (0..1). */
  minCoverage: number;
  /** A failed live check (its files count as unknown); for the log. */
  onLiveCheckFailed?: (error: unknown) => void;
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
    search: (principal, question, limit, access) =>
      tracing().span('knowledge.search', { 'kluis.workspace.id': principal.workspaceId, 'kluis.search.limit': limit, 'kluis.search.live_check': access !== undefined }, async (span) => {
        const reader = await deps.readers.readerFor(principal);
        // Ask the index for more than needed: the relevance gate and the live check may drop some.
        const hits = await deps.index.search(principal.workspaceId, question, { limit: limit * (access ? 4 : 3), reader, candidates: access !== undefined });
        const relevant = hits.filter((h) => coverage(question, [h.title, h.heading, h.text].filter(Boolean).join(' ')) >= options.minCoverage);
        span.set({ 'kluis.search.candidates': hits.length, 'kluis.search.relevant': relevant.length });
        const kept = access
          ? await tracing().span('knowledge.live_check', { 'kluis.search.relevant': relevant.length }, async (check) => {
              const openable = await keepOpenable(relevant, limit, access, options.onLiveCheckFailed);
              check.set({ 'kluis.live_check.kept': openable.length });
              return openable;
            })
          : withoutCandidates(relevant).slice(0, limit);
        span.set({ 'kluis.search.hits': kept.length });
        return kept;
      }),
  };
}
