import fs from 'node:fs';
import path from 'node:path';
import { isKluisError } from '../errors';
import { extractDocument } from './extract';
import { assertSafeZip } from './zipGuard';
import { zip } from '../../tests/support/zipArchive';

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return isKluisError(error, 'extraction_failed') ? error.message : `unexpected: ${String(error)}`;
  }
  return undefined;
};

describe('zip guard', () => {
  it('lets a real Word document through', () => {
    const docx = fs.readFileSync(path.join(__dirname, '..', '..', 'tests', 'fixtures', 'documents', 'headings.docx'));
    expect(refusal(() => assertSafeZip('headings.docx', docx))).toBeUndefined();
  });

  it('refuses a zip bomb (highly compressed zeros) before decompressing it', async () => {
    const bomb = zip([{ name: 'word/document.xml', data: Buffer.alloc(50 * 1024 * 1024) }]);
    expect(bomb.length).toBeLessThan(100 * 1024);
    expect(refusal(() => assertSafeZip('bomb.docx', bomb))).toMatch(/which only zip bombs do/);
    await expect(extractDocument('bomb.docx', bomb)).rejects.toThrow(/zip bombs/);
  });

  it('refuses an archive that declares more than the absolute cap', () => {
    const big = zip([{ name: 'a.xml', data: Buffer.from('x'), declaredSize: 300 * 1024 * 1024 }]);
    expect(refusal(() => assertSafeZip('big.docx', big))).toMatch(/would expand to/);
  });

  it('refuses a ZIP64 size marker', () => {
    const huge = zip([{ name: 'a.xml', data: Buffer.from('x'), declaredSize: 0xffffffff }]);
    expect(refusal(() => assertSafeZip('huge.docx', huge))).toMatch(/larger than 4 GiB/);
  });

  it('refuses bytes without a zip directory and a damaged directory', () => {
    expect(refusal(() => assertSafeZip('x.docx', Buffer.from('not a zip at all, just text')))).toMatch(/no zip directory/);
    const damaged = zip([{ name: 'a.xml', data: Buffer.from('hello') }]);
    damaged.writeUInt32LE(0xdeadbeef, damaged.length - 22 - 46 - 5);
    expect(refusal(() => assertSafeZip('x.docx', damaged))).toMatch(/damaged zip directory/);
  });
});
