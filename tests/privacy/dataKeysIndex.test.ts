/**
 * The LanceDB index with sealed passage text and keyed-hash search tokens passes the shared
 * SearchIndex conformance suite unchanged: sealing and hashing are invisible to callers. (The Qdrant adapter's sealing is checked on the wire
 * in api/knowledge/qdrantIndex.contract.test.ts; its conformance run needs a real server.)
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLanceDbIndex } from '../../api/knowledge/lancedbIndex';
import { chunksOf, searchIndexConformance } from '../conformance/searchIndex.suite';
import { memoryDataKeys } from '../support/dataKeys';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-lancedb-sealed-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// One key service for every handle: the persistence case reopens the folder and must read on.
const dataKeys = memoryDataKeys();
searchIndexConformance('LanceDB (embedded, passage text sealed and words as keyed tokens)', () => openLanceDbIndex(dir, { dataKeys, tokenKeys: dataKeys }));

describe('LanceDB index folders of the other kind', () => {
  it('empties (and reports) a folder whose full-text columns hold words when keyed tokens are asked for, and the other way round', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-lancedb-kind-'));
    try {
      const ws = randomUUID();
      const chunks = chunksOf('handbook', [{ text: 'Travel expenses are refunded within thirty days' }]);
      const rebuilt: unknown[] = [];

      const words = await openLanceDbIndex(folder);
      await words.replaceDocument(ws, 'handbook', chunks);
      await words.close();

      const keyed = await openLanceDbIndex(folder, { dataKeys, tokenKeys: dataKeys, onRebuild: (previous) => rebuilt.push(previous) });
      expect(rebuilt.length).toBe(1);
      expect(await keyed.countChunks(ws)).toBe(0);
      await keyed.replaceDocument(ws, 'handbook', chunks);
      expect((await keyed.search(ws, 'refunded travel expense', { limit: 3 })).map((h) => h.text)).toEqual(['Travel expenses are refunded within thirty days']);
      await keyed.close();

      const wordsAgain = await openLanceDbIndex(folder, { onRebuild: (previous) => rebuilt.push(previous) });
      expect(rebuilt.length).toBe(2);
      expect(await wordsAgain.countChunks(ws)).toBe(0);
      await wordsAgain.close();
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });

  it('a question without a word to hash (punctuation only) finds nothing', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-lancedb-stop-'));
    try {
      const ws = randomUUID();
      const index = await openLanceDbIndex(folder, { dataKeys, tokenKeys: dataKeys });
      await index.replaceDocument(ws, 'memo', chunksOf('memo', [{ text: 'The parking permits are at the reception' }]));

      expect(await index.search(ws, '?! ... --', { limit: 3 })).toEqual([]);
      expect((await index.search(ws, 'parking permit', { limit: 3 })).length).toBe(1);
      await index.close();
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
