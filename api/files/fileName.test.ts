/** Cleaning uploaded file names: no paths, no control or bidi characters, a bounded length. */
import { errorId } from '../../tests/support/errors';
import { MAX_FILE_NAME_LENGTH, sanitiseFileName } from './fileName';

describe('sanitiseFileName', () => {
  it.each([
    ['a Unix parent-directory walk', '../../etc/passwd.txt', 'passwd.txt'],
    ['a Windows path', 'C:\\Users\\eve\\..\\report.pdf', 'report.pdf'],
    ['an absolute path', '/var/lib/kluis/blobs/.key.txt', 'key.txt'],
    ['a right-to-left override hiding an executable', 'invoice\u202Efdp.exe', 'invoicefdp.exe'],
    ['bidi isolates and zero-width characters', 'a\u2066b\u2069c\u200Bd\uFEFF.pdf', 'abcd.pdf'],
    ['control characters and newlines (header injection)', 'report\r\nSet-Cookie: x=1\u0000.pdf', 'reportSet-Cookie_ x=1.pdf'],
    ['trailing dots and spaces Windows drops', 'notes.txt. . ', 'notes.txt'],
    ['characters Windows forbids', 'a<b>c:d"e|f?g*.md', 'a_b_c_d_e_f_g_.md'],
    ['decomposed accents (normalised to NFC)', 'cafe\u0301.txt', 'café.txt'],
    ['a Windows device name', 'CON.txt', '_CON.txt'],
    ['a Windows port name', 'com1.md', '_com1.md'],
    ['a name that only starts like a device name', 'console.txt', 'console.txt'],
    ['plain Unicode', 'Begroting 2026 – één.xlsx', 'Begroting 2026 – één.xlsx'],
  ])('cleans %s', (_label, raw, clean) => {
    expect(sanitiseFileName(raw)).toBe(clean);
  });

  it('caps the length and keeps the extension', () => {
    const clean = sanitiseFileName(`${'x'.repeat(5000)}.docx`);
    expect([...clean]).toHaveLength(MAX_FILE_NAME_LENGTH);
    expect(clean.endsWith('.docx')).toBe(true);
  });

  it('caps by characters, not UTF-16 units, and never splits an emoji', () => {
    const clean = sanitiseFileName(`${'📄'.repeat(500)}.pdf`);
    expect([...clean]).toHaveLength(MAX_FILE_NAME_LENGTH);
    expect(clean).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it.each(['', '..', '/', '\u202E\u0000', ' . ', 'dir/'])('refuses %j, which has nothing left once cleaned', (raw) => {
    expect(errorId(() => sanitiseFileName(raw))).toBe('upload_malformed');
  });
});
