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
 *
 * Two ways to make an id. Without a key it is FNV-1a of the term (`termId`): anyone can compute
 * it, so the words of a stored vector can be recovered by hashing a dictionary. With a key (the
 * workspace's search-token key, derived from its data key) it is the first 32 bits of the term's
 * HMAC-SHA-256 (`keyedTermId`): equal terms still give equal ids within the workspace, so ranking is
 * unchanged, but without the key an id says nothing about its word, and once the data key is
 * destroyed nobody can compute one again.
 */
import { createHmac } from 'node:crypto';
import { fail } from '../errors';

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

/** A token key shorter than this is a mistake (an empty buffer would key nothing). */
const MIN_KEY_BYTES = 16;

/**
 * The first 32 bits (big-endian) of HMAC-SHA-256 of the term's UTF-8 bytes under `key`: an id only
 * the key's holder can compute. Two terms may still share an id; `toVector` sums them as for FNV.
 */
export function keyedTermId(term: string, key: Buffer): number {
  return createHmac('sha256', key).update(term, 'utf8').digest().readUInt32BE(0);
}

/** The id function for `key`: keyed when given, FNV-1a when not; each term is hashed once per text. */
function idsFor(key: Buffer | undefined): (term: string) => number {
  if (key === undefined) return termId;
  if (!Buffer.isBuffer(key) || key.length < MIN_KEY_BYTES) fail('internal', `A term key must be a buffer of at least ${MIN_KEY_BYTES} bytes.`);
  const seen = new Map<string, number>();
  return (term) => {
    let id = seen.get(term);
    if (id === undefined) {
      id = keyedTermId(term, key);
      seen.set(term, id);
    }
    return id;
  };
}

/** A passage: each term's id (keyed with `key` when given) with the number of times it occurs. */
export function documentVector(text: string, key?: Buffer): SparseVector {
  const idOf = idsFor(key);
  const counts = new Map<number, number>();
  for (const term of terms(text)) {
    const id = idOf(term);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return toVector(counts);
}

/**
 * A question: each distinct term once, so repeating a word in the question (or a pasted wall of
 * text) does not outweigh the other words; the index supplies the weighting by rarity. Its ids
 * must be made as the passages' were: keyed with the same workspace's key, or both unkeyed.
 */
export function queryVector(text: string, key?: Buffer): SparseVector {
  const idOf = idsFor(key);
  const counts = new Map<number, number>();
  for (const term of terms(text)) counts.set(idOf(term), 1);
  return toVector(counts);
}
