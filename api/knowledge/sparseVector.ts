/**
 * Lexical sparse vectors for a search index that scores them itself (Qdrant with `modifier: idf`).
 *
 * A passage becomes a bag of words: one entry per distinct term, the term's id a 32-bit hash of
 * the word and its value how often the word occurs. The index multiplies each matched term by
 * its inverse document frequency, so the sum over the query's terms behaves like BM25 without
 * the length normalisation. No stemming: Kluis serves Dutch, English, French and German text, and
 * a stemmer for the wrong language does more harm than none; the relevance gate above the index
 * already compares words on their first five letters.
 *
 * The term ids are stored in the index. Changing anything here (folding, splitting, stop words,
 * the hash) changes the ids of existing passages and needs every workspace re-indexed.
 */

export interface SparseVector {
  indices: number[];
  values: number[];
}

/** Longer "words" are hashes, base64 or glued identifiers; their head is enough to match them. */
const MAX_TERM_LENGTH = 40;

/**
 * Function words of the four languages, written as `terms` leaves them (lower case, accents
 * folded). Words that are function words in one language but content in another that Kluis
 * serves ("war", "son", "gift", "mist") are deliberately absent.
 */
const STOP_WORDS = new Set(
  [
    // English
    'a an and are as at be been being but by can could did do does for from had has have he her here his how i if in into is it its me my no not of on or our she so than that the their them then there these they this those to was we were what when where which who whom why will with would you your',
    // Dutch
    'aan al als ben bent bij dan dat de deze die dit door een en er had heb hebben hebt heeft het hier hij hoe hun ik in is je jij jullie kan kunnen maar me met mij mijn moet moeten naar niet of om onze ook op over te tot u uit uw van voor waar wanneer waren wat we welke wie wij wordt worden ze zal zij zijn zo zou',
    // French
    'au aux avec ce ces cet cette dans de des du elle elles en est et etre il ils je la le les leur leurs lui ma mais me mes moi mon ne nous on ont ou par pas pour qu que qui sa se ses sont sur ta te tes toi ton tu un une vos votre vous',
    // German
    'am an auch auf aus bei bin bist das dass dem den der des dich die dir du ein eine einem einen einer eines er es fur hat hatte ich ihr im ist mich mir mit nach nicht noch oder sich sie sind und uns vom von wie wir wird zu zum zur uber',
  ]
    .join(' ')
    .split(' '),
);

/** Letters that Unicode decomposition leaves whole; the rest fold by dropping combining marks. */
const FOLD: Record<string, string> = { ß: 'ss', ẞ: 'ss', æ: 'ae', Æ: 'ae', œ: 'oe', Œ: 'oe', ø: 'o', Ø: 'o', ł: 'l', Ł: 'l', đ: 'd', Đ: 'd', ð: 'd', Ð: 'd', þ: 'th', Þ: 'th', ı: 'i' };

/** Lower-case, accent-free words of a text, stop words kept (callers decide what to drop). */
export function words(text: string): string[] {
  const folded = text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[ßẞæÆœŒøØłŁđĐðÐþÞı]/g, (c) => FOLD[c] ?? c)
    .toLowerCase();
  return folded.match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** The searchable terms of a text: words without stop words and single letters, capped in length. */
export function terms(text: string): string[] {
  const out: string[] = [];
  for (const word of words(text)) {
    if (STOP_WORDS.has(word)) continue;
    // A lone letter is an initial or the remains of an elision (l', d', auto's); a lone digit is data.
    if (word.length === 1 && !/\p{N}/u.test(word)) continue;
    out.push(word.length > MAX_TERM_LENGTH ? word.slice(0, MAX_TERM_LENGTH) : word);
  }
  return out;
}

/** FNV-1a over the UTF-8 bytes: stable across processes and releases, unlike any runtime hash. */
export function termId(term: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(term, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Entries summed per id: two terms that hash alike share one entry, because the index refuses
 * a vector that names the same id twice. Sorted by id so equal texts give equal vectors.
 */
function toVector(counts: Map<number, number>): SparseVector {
  const indices = [...counts.keys()].sort((a, b) => a - b);
  return { indices, values: indices.map((i) => counts.get(i) ?? 0) };
}

/** A passage: each term's id with the number of times it occurs. */
export function documentVector(text: string): SparseVector {
  const counts = new Map<number, number>();
  for (const term of terms(text)) {
    const id = termId(term);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return toVector(counts);
}

/**
 * A question: each distinct term once, so repeating a word in the question (or a pasted wall of
 * text) does not outweigh the other words; the index supplies the weighting by rarity.
 */
export function queryVector(text: string): SparseVector {
  const counts = new Map<number, number>();
  for (const term of terms(text)) counts.set(termId(term), 1);
  return toVector(counts);
}
