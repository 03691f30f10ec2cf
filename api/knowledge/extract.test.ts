import fs from 'node:fs';
import path from 'node:path';
import { isKluisError } from '../errors';
import { decodeText, extractDocument, isSupportedFile } from './extract';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '..', '..', 'tests', 'fixtures', 'documents', name));
const allText = (d: { sections: Array<{ heading?: string; text: string }> }) => d.sections.map((s) => `${s.heading ?? ''}\n${s.text}`).join('\n');

async function extractionError(name: string, bytes: Buffer): Promise<unknown> {
  try {
    await extractDocument(name, bytes);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('extractDocument', () => {
  it('keeps Word headings as section headings', async () => {
    const doc = await extractDocument('headings.docx', fixture('headings.docx'));
    expect(doc.title).toBe('Reiskosten');
    const section = doc.sections.find((s) => s.heading === 'Kilometervergoeding');
    expect(section?.text).toContain('De kilometervergoeding bedraagt 0,4280 euro per kilometer.');
  });

  it('reads every page of a PDF as its own section', async () => {
    const doc = await extractDocument('two-pages.pdf', fixture('two-pages.pdf'));
    expect(doc.sections.find((s) => s.heading === 'Page 1')?.text).toContain('ALPHA-7731');
    expect(doc.sections.find((s) => s.heading === 'Page 2')?.text).toContain('BRAVO-2219');
  });

  it('reads every slide of a presentation as its own section, speaker notes included', async () => {
    const doc = await extractDocument('slides.pptx', fixture('slides.pptx'));
    expect(doc.title).toBe('Facilitair kwartaal Q1 2026');
    expect(doc.mimeType).toBe('application/vnd.openxmlformats-officedocument.presentationml.presentation');
    expect(doc.sections.map((s) => s.heading)).toEqual(['Slide 1: Kwartaalupdate Facilitair', 'Slide 2: Verhuizing kantoor', 'Slide 3: Vragen']);
    expect(doc.sections[1]!.text).toBe('De verhuizing naar het nieuwe pand start op 14 april.\nElke afdeling krijgt twee verhuisdozen per medewerker.\n\nNotes:\nBenadruk de sleuteloverdracht op vrijdag.\nNOTES-CANARY-5');
    expect(doc.sections[2]!.text).not.toContain('NOTES-CANARY-5');
  });

  it('reads every sheet of a workbook as its own section, rows as lines of cells', async () => {
    const doc = await extractDocument('sheets.xlsx', fixture('sheets.xlsx'));
    expect(doc.title).toBe('Begroting Facilitair 2026');
    expect(doc.mimeType).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(doc.sections.map((s) => s.heading)).toEqual(['Begroting', 'Contacten']);
    const budget = doc.sections[0]!.text.split('\n');
    expect(budget).toContain('Budget 2026 | 125000 | 1');
    expect(budget).toContain('Totaal | 133450.5');
    expect(budget).toContain('Kenmerk | | XLSX-CANARY-9');
    expect(budget).not.toContain('');
    expect(doc.sections[1]!.text).toContain('Sanne de Vries | Budgethouder');
  });

  it('drops scripts and styles from HTML and decodes entities', async () => {
    const doc = await extractDocument('page.html', fixture('page.html'));
    const text = allText(doc);
    expect(doc.title).toBe('Fixture page');
    expect(text).toContain('Visible heading');
    expect(text).toContain('HTML-CANARY-2 & an entity');
    expect(text).not.toContain('SCRIPT-CANARY-1');
    expect(text).not.toContain('color:red');
  });

  it('splits Markdown on headings and takes the first H1 as title', async () => {
    const doc = await extractDocument('notes.md', fixture('notes.md'));
    expect(doc.sections.filter((s) => s.heading).length).toBeGreaterThanOrEqual(3);
    expect(allText(doc)).toContain('LONGPARA-START');
  });

  it('reads a Latin-1 text file without mojibake', async () => {
    const doc = await extractDocument('latin1.txt', fixture('latin1.txt'));
    expect(allText(doc)).toMatch(/café/);
    expect(allText(doc)).toMatch(/één/);
  });

  it('decodes UTF-8 with a byte-order mark', () => {
    expect(decodeText(Buffer.from([0xef, 0xbb, 0xbf, 0x68, 0xc3, 0xa9]))).toBe('hé');
  });

  it.each([
    ['corrupt.docx', /not a readable Word document/],
    ['corrupt.pdf', /not a readable PDF/],
    ['empty.txt', /no readable text/],
    ['encrypted.docx', /encrypted\.docx is password-protected/],
    ['encrypted.xlsx', /encrypted\.xlsx is password-protected/],
    ['encrypted.pdf', /encrypted\.pdf is password-protected/],
  ])('refuses the hostile or broken file %s with a clear reason', async (name, reason) => {
    const error = await extractionError(name, fixture(name));
    expect(isKluisError(error, 'extraction_failed')).toBe(true);
    expect((error as Error).message).toMatch(reason);
  });

  it('accepts PowerPoint and Excel files whatever the case of their extension', () => {
    expect(['deck.pptx', 'BUDGET.XLSX', 'notes.docx'].every(isSupportedFile)).toBe(true);
    expect(['old.ppt', 'old.xls', 'macro.xlsm'].some(isSupportedFile)).toBe(false);
  });

  it('refuses an unsupported file type', async () => {
    const error = await extractionError('tool.exe', Buffer.from('MZ'));
    expect(isKluisError(error, 'extraction_failed')).toBe(true);
    expect((error as Error).message).toMatch(/Unsupported file type ".exe"/);
  });

  it('reads every demo document', async () => {
    const dir = path.join(__dirname, '..', '..', 'demo', 'knowledge');
    for (const name of fs.readdirSync(dir)) {
      const doc = await extractDocument(name, fs.readFileSync(path.join(dir, name)));
      expect(allText(doc).length).toBeGreaterThan(1000);
    }
  });
});
