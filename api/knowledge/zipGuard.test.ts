import fs from 'node:fs';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { isKluisError } from '../errors';
import { extractDocument } from './extract';
import { assertSafeZip } from './zipGuard';

/** A minimal zip archive with stored-as-deflated entries, written by hand so the test controls every header. */
function zip(entries: Array<{ name: string; data: Buffer; declaredSize?: number }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const compressed = deflateRawSync(e.data);
    const size = e.declaredSize ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, compressed);
    centrals.push(central, name);
    offset += local.length + name.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

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
