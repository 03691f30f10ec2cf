/**
 * The live re-check before answering: the stored acl is as old as the last sync, so the few hits
 * that would reach the prompt are confirmed with the asking user's own access to the source
 * (SharePoint: a Graph `$batch` of item GETs with the user's token). SharePoint itself then decides,
 * for a user who lost access since the sync as for a file shared only with a site group Kluis
 * cannot list.
 *
 * Policy, by how the index admitted a hit (`SearchHit.access`):
 * - 'workspace' (no acl: the local folder, uploads): not checked, kept;
 * - 'acl': dropped on false; kept on true and on unknown (the stored acl then decides);
 * - 'candidate': kept only on true (unknown is not enough to open a file nobody listed).
 * Only the final hits are checked: the hits are taken in rank order until `limit` are kept, at most
 * MAX_REFS_PER_ROUND files a round and at most MAX_ROUNDS rounds; a hit left unchecked when the
 * rounds are spent is kept only when it needs no check. A failed check is unknown for every file
 * it asked about.
 */
import type { DelegatedAccess, OpenVerdict, SearchHit } from './ports';

/** Graph JSON batching takes at most 20 requests in one call ("Combine multiple requests in one HTTP request"). */
export const MAX_REFS_PER_ROUND = 20;
/** A user is waiting: at most this many calls to the source per question. */
export const MAX_ROUNDS = 2;

export async function keepOpenable(hits: readonly SearchHit[], limit: number, access: DelegatedAccess, onCheckFailed?: (error: unknown) => void): Promise<SearchHit[]> {
  const verdicts = new Map<string, OpenVerdict>();
  const checked = new Set<string>();
  const kept: SearchHit[] = [];
  let position = 0;
  let rounds = 0;

  const decide = (hit: SearchHit): boolean => {
    if (hit.access === 'workspace') return true;
    const verdict = verdicts.get(hit.sourceRef);
    return hit.access === 'candidate' ? verdict === true : verdict !== false;
  };

  while (kept.length < limit && position < hits.length && rounds < MAX_ROUNDS) {
    // The next hits that could fill the remaining places, as long as their files fit one round.
    const needed = limit - kept.length;
    const round: SearchHit[] = [];
    const refs = new Set<string>();
    let places = 0;
    while (position < hits.length && places < needed) {
      const hit = hits[position]!;
      const ref = hit.access === 'workspace' || checked.has(hit.sourceRef) ? undefined : hit.sourceRef;
      if (ref !== undefined && !refs.has(ref) && refs.size >= MAX_REFS_PER_ROUND) break;
      if (ref !== undefined) refs.add(ref);
      round.push(hit);
      position++;
      places++;
    }
    if (refs.size > 0) {
      rounds++;
      let answer: Map<string, OpenVerdict>;
      try {
        answer = await access.canOpen([...refs]);
      } catch (error) {
        onCheckFailed?.(error);
        answer = new Map();
      }
      for (const ref of refs) {
        checked.add(ref);
        const verdict = answer.get(ref);
        verdicts.set(ref, verdict === true || verdict === false ? verdict : undefined);
      }
    }
    for (const hit of round) if (kept.length < limit && decide(hit)) kept.push(hit);
  }
  // Rounds spent: what is left may fill places only when it needs no call.
  for (; position < hits.length && kept.length < limit; position++) {
    const hit = hits[position]!;
    if (hit.access === 'workspace' || checked.has(hit.sourceRef)) {
      if (decide(hit)) kept.push(hit);
    }
  }
  return kept;
}

/** Without delegated access no candidate is ever used (the index returns none; this makes sure). */
export function withoutCandidates(hits: readonly SearchHit[]): SearchHit[] {
  return hits.filter((h) => h.access !== 'candidate');
}
