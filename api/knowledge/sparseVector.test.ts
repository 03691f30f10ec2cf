/**
 * Keyed sparse term ids: what a workspace's passages and questions become in an index that keeps
 * term ids (Qdrant with token keys). The unkeyed ids and the term rules are tested with the Qdrant
 * wire contract (qdrantIndex.contract.test.ts, "sparse vectors").
 */
import { isKluisError } from '../errors';
import { documentVector, keyedTermId, queryVector, termId, terms } from './sparseVector';

const KEY_A = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
const KEY_B = Buffer.from('0f0e0d0c0b0a09080706050403020100', 'hex');

/** Two distinct terms whose keyed ids under `key` are equal, found by counting up (a birthday search over 32 bits). */
function collidingTerms(key: Buffer): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; i < 2_000_000; i++) {
    const term = `t${i.toString(36)}`;
    const id = keyedTermId(term, key);
    const earlier = seen.get(id);
    if (earlier !== undefined) return [earlier, term];
    seen.set(id, term);
  }
  throw new Error('no collision found');
}

describe('keyed sparse term ids', () => {
  it('are the first 32 bits of HMAC-SHA-256 of the term under the key, the same on every call', () => {
    // Reference: `printf leave | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…0f` begins ab6ddb1f.
    expect(keyedTermId('leave', KEY_A)).toBe(0xab6ddb1f);
    expect(keyedTermId('leave', KEY_A)).toBe(keyedTermId('leave', Buffer.from(KEY_A)));
    expect(documentVector('Leave days, leave rules', KEY_A)).toEqual(documentVector('Leave days, leave rules', Buffer.from(KEY_A)));
  });

  it('differ between keys and from the unkeyed ids, for every term of a text', () => {
    const text = 'Holiday allowance is paid in May; overtime is paid monthly';
    for (const term of terms(text)) {
      expect(keyedTermId(term, KEY_A)).not.toBe(keyedTermId(term, KEY_B));
      expect(keyedTermId(term, KEY_A)).not.toBe(termId(term));
    }
    const a = documentVector(text, KEY_A);
    const b = documentVector(text, KEY_B);
    expect(a.indices.some((i) => b.indices.includes(i))).toBe(false);
    expect(a.indices.some((i) => documentVector(text).indices.includes(i))).toBe(false);
  });

  it('count term frequency in passages and each distinct term once in questions, as unkeyed ids do', () => {
    const doc = documentVector('Leave leave LEAVE days', KEY_A);
    expect(doc.values[doc.indices.indexOf(keyedTermId('leave', KEY_A))]).toBe(3);
    expect(doc.values[doc.indices.indexOf(keyedTermId('days', KEY_A))]).toBe(1);
    expect(doc.indices).toHaveLength(2);
    const q = queryVector('leave leave days and the days', KEY_A);
    expect(q).toEqual({ indices: [keyedTermId('leave', KEY_A), keyedTermId('days', KEY_A)].sort((x, y) => x - y), values: [1, 1] });
  });

  it('give sorted, unique, unsigned 32-bit indices, and nothing for text without words', () => {
    const v = documentVector('b a c a b d e f g h i j k lorem ipsum dolor sit amet', KEY_B);
    expect([...v.indices].sort((x, y) => x - y)).toEqual(v.indices);
    expect(new Set(v.indices).size).toBe(v.indices.length);
    for (const i of v.indices) expect(i >>> 0).toBe(i);
    expect(queryVector('!?.,;: 🔒 \u0000', KEY_A)).toEqual({ indices: [], values: [] });
    expect(documentVector('the and of', KEY_A)).toEqual({ indices: [], values: [] });
  });

  it('sum two terms that share a keyed id into one entry, as the index refuses an id named twice', () => {
    const [first, second] = collidingTerms(KEY_A);
    const id = keyedTermId(first, KEY_A);
    expect(first).not.toBe(second);
    expect(keyedTermId(second, KEY_A)).toBe(id);

    expect(documentVector(`${first} ${second} ${first} other`, KEY_A)).toEqual(documentVector(`${first} ${first} ${first} other`, KEY_A));
    const doc = documentVector(`${first} ${second} ${first}`, KEY_A);
    expect(doc).toEqual({ indices: [id], values: [3] });
    expect(queryVector(`${first} ${second}`, KEY_A)).toEqual({ indices: [id], values: [1] });
    // Under another key the two terms part again.
    expect(documentVector(`${first} ${second}`, KEY_B).indices).toHaveLength(2);
  });

  it('leave the unkeyed ids as they were when no key is given', () => {
    const text = 'Travel costs abroad, travel insurance';
    expect(documentVector(text, undefined)).toEqual(documentVector(text));
    expect(documentVector(text).indices).toContain(termId('travel'));
    expect(queryVector(text, undefined)).toEqual(queryVector(text));
  });

  it('refuse a key too short to key anything, as internal', () => {
    for (const key of [Buffer.alloc(0), Buffer.alloc(15), 'a string key' as unknown as Buffer]) {
      let error: unknown;
      try {
        documentVector('some words', key);
      } catch (e) {
        error = e;
      }
      expect(isKluisError(error, 'internal')).toBe(true);
    }
    expect(() => queryVector('some words', Buffer.alloc(0))).toThrow();
  });
});
