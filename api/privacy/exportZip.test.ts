import JSZip from 'jszip';
import { archiveSegment } from './exportArchive';
import { createZipArchive } from './exportZip';

describe('the export zip writer', () => {
  it('writes entries in order that a zip reader gets back byte for byte', async () => {
    const zip = createZipArchive();
    const binary = Buffer.from([0, 255, 1, 254, 2, 253]);
    await zip.add('manifest.json', '{"a":1}\n');
    await zip.add('files/x/data.bin', binary);
    const read = await JSZip.loadAsync(await zip.finish());
    expect(Object.keys(read.files)).toEqual(['manifest.json', 'files/x/data.bin']);
    expect(await read.file('manifest.json')!.async('string')).toBe('{"a":1}\n');
    expect((await read.file('files/x/data.bin')!.async('nodebuffer')).equals(binary)).toBe(true);
  });

  it('refuses to go on after an abort (a failed build never yields an archive)', async () => {
    const zip = createZipArchive();
    await zip.add('a.json', '[]');
    zip.abort();
    await expect(zip.add('b.json', '[]')).rejects.toMatchObject({ id: 'internal' });
    await expect(zip.finish()).rejects.toMatchObject({ id: 'internal' });
  });
});

describe('archiveSegment', () => {
  it.each([
    ['../../etc/passwd', '__.._etc_passwd'],
    ['..', '_'],
    ['a\\b:c', 'a_b_c'],
    ['nul\u0000byte\u001f', 'nul_byte_'],
    ['', 'file'],
    ['Rapport 2026.pdf', 'Rapport 2026.pdf'],
  ])('keeps %j inside one path segment', (name, expected) => {
    const segment = archiveSegment(name);
    expect(segment).toBe(expected);
    expect(segment).not.toMatch(/[/\\]/);
    expect(segment.startsWith('.')).toBe(false);
  });

  it('caps a very long name', () => {
    expect(archiveSegment('x'.repeat(1000))).toHaveLength(200);
  });
});
