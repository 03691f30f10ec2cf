/** Type sniffing of uploads: the extension and the first bytes must name the same format. */
import fs from 'node:fs';
import path from 'node:path';
import { errorId } from '../../tests/support/errors';
import { fileTypeOf } from './fileType';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '..', '..', 'tests', 'fixtures', 'documents', name));
const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4e40000000049454e44ae426082', 'hex');
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]);
const MP4 = Buffer.from('00000018667479706973366d0000020069736f6d6d703431', 'hex').fill(Buffer.from('isom'), 8, 12);
const WEBM = Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01]);

describe('fileTypeOf', () => {
  it.each([
    ['headings.docx', fixture('headings.docx'), 'document'],
    ['slides.pptx', fixture('slides.pptx'), 'document'],
    ['sheets.xlsx', fixture('sheets.xlsx'), 'document'],
    ['two-pages.pdf', fixture('two-pages.pdf'), 'document'],
    ['page.html', fixture('page.html'), 'document'],
    ['notes.md', fixture('notes.md'), 'document'],
    ['latin1.txt', fixture('latin1.txt'), 'document'],
    ['photo.png', PNG, 'image'],
    ['PHOTO.JPG', JPEG, 'image'],
    ['clip.mp4', MP4, 'video'],
    ['clip.webm', WEBM, 'video'],
  ])('accepts %s whose content matches its extension', (name, bytes, kind) => {
    expect(fileTypeOf(name, bytes).kind).toBe(kind);
  });

  it.each([
    ['a PNG renamed to .pdf', 'report.pdf', PNG],
    ['a Windows executable renamed to .pdf', 'invoice.pdf', Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1')],
    ['a PowerPoint renamed to .docx (a ZIP, but not a Word package)', 'memo.docx', fixture('slides.pptx')],
    ['a Word document renamed to .xlsx', 'budget.xlsx', fixture('headings.docx')],
    ['an encrypted (OLE) Office file named .docx', 'secret.docx', fixture('encrypted.docx')],
    ['a PDF renamed to .txt', 'notes.txt', fixture('two-pages.pdf')],
    ['binary with NUL bytes named .md', 'readme.md', Buffer.from([0x41, 0x00, 0x42])],
    ['a PDF renamed to .png', 'photo.png', fixture('two-pages.pdf')],
    ['an executable renamed to .mp4', 'clip.mp4', Buffer.from('MZ\x90\x00\x03\x00\x00\x00ftypisom', 'latin1')],
    ['an HTML page named .jpg', 'photo.jpg', fixture('page.html')],
  ])('refuses %s (type mismatch)', (_label, name, bytes) => {
    expect(errorId(() => fileTypeOf(name, bytes))).toBe('upload_type_mismatch');
  });

  it.each(['script.exe', 'drawing.svg', 'archive.zip', 'no-extension', 'macro.docm', 'old.doc', ''])('refuses the extension of %j as unsupported', (name) => {
    expect(errorId(() => fileTypeOf(name, Buffer.from('hello')))).toBe('upload_type_unsupported');
  });
});
