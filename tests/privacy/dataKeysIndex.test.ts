/**
 * The LanceDB index with sealed passage text and keyed-hash search tokens passes the shared
 * SearchIndex conformance suite unchanged: sealing and hashing are invisible to callers. (The Qdrant adapter's sealing is checked on the wire
 * in api/knowledge/qdrantIndex.contract.test.ts; its conformance run needs a real server.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLanceDbIndex } from '../../api/knowledge/lancedbIndex';
import { searchIndexConformance } from '../conformance/searchIndex.suite';
import { memoryDataKeys } from '../support/dataKeys';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-lancedb-sealed-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// One key service for every handle: the persistence case reopens the folder and must read on.
const dataKeys = memoryDataKeys();
searchIndexConformance('LanceDB (embedded, passage text sealed and words as keyed tokens)', () => openLanceDbIndex(dir, { dataKeys, tokenKeys: dataKeys }));
