import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { createDeflateRaw, deflateRawSync } from 'node:zlib';
import JSZip from 'jszip';
import { isKluisError } from '../errors';
import { extractDocument } from './extract';
import { dateKindOfFormat, MAX_WORKBOOK_CELLS, serialToIso } from './officeExtract';
import { MAX_UNCOMPRESSED_BYTES } from './zipGuard';
import { rawZip } from '../../tests/support/zipArchive';

// --- Packages built in code, so each test controls every part -------------------------------------

const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const CORE_REL = 'http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties';
const P_NS = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"';
const X_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"';
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>';

async function pack(files: Record<string, string | Buffer>): Promise<Buffer> {
  const zip = new JSZip();
  for (const [name, content] of Object.entries(files)) zip.file(name, content);
  return zip.generateAsync({ type: 'nodebuffer', compression: 'DEFLATE' });
}

function rels(entries: Array<[id: string, type: string, target: string]>): string {
  return `${XML_DECLARATION}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${entries.map(([id, type, target]) => `<Relationship Id="${id}" Type="${type}" Target="${target}"/>`).join('')}</Relationships>`;
}

function core(title: string): string {
  return `${XML_DECLARATION}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>${title}</dc:title></cp:coreProperties>`;
}

function shape(paragraphs: string[], placeholder?: string): string {
  const ph = placeholder === undefined ? '' : placeholder === '' ? '<p:ph/>' : `<p:ph type="${placeholder}"/>`;
  const body = paragraphs.map((p) => `<a:p><a:r><a:rPr lang="nl-NL"/><a:t>${p}</a:t></a:r></a:p>`).join('');
  return `<p:sp><p:nvSpPr><p:cNvPr id="2" name="Shape"/><p:cNvSpPr/><p:nvPr>${ph}</p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>${body}</p:txBody></p:sp>`;
}

function slide(shapes: string, prologue = XML_DECLARATION): string {
  return `${prologue}<p:sld ${P_NS}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>${shapes}</p:spTree></p:cSld></p:sld>`;
}

function notes(shapes: string): string {
  return `${XML_DECLARATION}<p:notes ${P_NS}><p:cSld><p:spTree>${shapes}</p:spTree></p:cSld></p:notes>`;
}

/** A presentation whose slide list names `order` (file numbers) in that order. */
function presentation(slides: Record<number, string>, order: number[], extra: Record<string, string> = {}): Record<string, string> {
  const files: Record<string, string> = {
    '_rels/.rels': rels([['rId1', `${REL}/officeDocument`, 'ppt/presentation.xml']]),
    'ppt/presentation.xml': `${XML_DECLARATION}<p:presentation ${P_NS}><p:sldIdLst>${order.map((n, i) => `<p:sldId id="${256 + i}" r:id="rIdS${n}"/>`).join('')}</p:sldIdLst></p:presentation>`,
    'ppt/_rels/presentation.xml.rels': rels(Object.keys(slides).map((n) => [`rIdS${n}`, `${REL}/slide`, `slides/slide${n}.xml`])),
  };
  for (const [n, xml] of Object.entries(slides)) files[`ppt/slides/slide${n}.xml`] = xml;
  return { ...files, ...extra };
}

/** A workbook of sheets (name and sheetData rows), listed in the given order, with shared strings. */
function workbook(sheets: Array<{ name: string; file: string; rows: string }>, sharedStrings?: string): Record<string, string> {
  const files: Record<string, string> = {
    '_rels/.rels': rels([['rId1', `${REL}/officeDocument`, 'xl/workbook.xml']]),
    'xl/workbook.xml': `${XML_DECLARATION}<workbook ${X_NS}><sheets>${sheets.map((s, i) => `<sheet name="${s.name}" sheetId="${i + 1}" r:id="rIdW${i}"/>`).join('')}</sheets></workbook>`,
    'xl/_rels/workbook.xml.rels': rels([...sheets.map((s, i): [string, string, string] => [`rIdW${i}`, `${REL}/worksheet`, `worksheets/${s.file}`]), ['rIdSS', `${REL}/sharedStrings`, 'sharedStrings.xml']]),
  };
  for (const s of sheets) files[`xl/worksheets/${s.file}`] = `${XML_DECLARATION}<worksheet ${X_NS}><sheetData>${s.rows}</sheetData></worksheet>`;
  if (sharedStrings !== undefined) files['xl/sharedStrings.xml'] = `${XML_DECLARATION}<sst ${X_NS}>${sharedStrings}</sst>`;
  return files;
}

const deflated = (name: string, text: string) => {
  const data = Buffer.from(text);
  return { name, compressed: deflateRawSync(data), declaredSize: data.length };
};

async function extractionError(name: string, bytes: Buffer): Promise<string> {
  try {
    await extractDocument(name, bytes);
  } catch (error) {
    return isKluisError(error, 'extraction_failed') ? error.message : `unexpected: ${String(error)}`;
  }
  return 'no error';
}

// --- PowerPoint ------------------------------------------------------------------------------------

describe('PowerPoint extraction', () => {
  it('orders slides by the presentation slide list, not by part name', async () => {
    const bytes = await pack(presentation({ 1: slide(shape(['Second'], 'title')), 2: slide(shape(['First'], 'title')), 3: slide(shape(['Third'], 'title')) }, [2, 1, 3]));
    const doc = await extractDocument('order.pptx', bytes);
    expect(doc.sections.map((s) => s.heading)).toEqual(['Slide 1: First', 'Slide 2: Second', 'Slide 3: Third']);
  });

  it('takes the title from the first slide when the core properties have none, and reads a centred title', async () => {
    const bytes = await pack(presentation({ 1: slide(shape(['Jaarplan 2026'], 'ctrTitle') + shape(['Afdeling HR'], 'subTitle')) }, [1]));
    const doc = await extractDocument('jaarplan.pptx', bytes);
    expect(doc.title).toBe('Jaarplan 2026');
    expect(doc.sections).toEqual([{ heading: 'Slide 1: Jaarplan 2026', text: 'Afdeling HR' }]);
  });

  it('prefers the core properties title over the first slide title', async () => {
    const files = presentation({ 1: slide(shape(['Agenda'], 'title') + shape(['Punt 1'])) }, [1]);
    files['_rels/.rels'] = rels([
      ['rId1', `${REL}/officeDocument`, 'ppt/presentation.xml'],
      ['rId2', CORE_REL, 'docProps/core.xml'],
    ]);
    files['docProps/core.xml'] = core('Teamoverleg maart');
    expect((await extractDocument('overleg.pptx', await pack(files))).title).toBe('Teamoverleg maart');
  });

  it('keeps paragraphs as lines, table rows as cells joined by " | ", and drops footers and slide numbers', async () => {
    const table =
      '<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="4" name="Table"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><a:graphic><a:graphicData><a:tbl>' +
      '<a:tr><a:tc><a:txBody><a:p><a:r><a:t>Regio</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>Omzet</a:t></a:r></a:p></a:txBody></a:tc></a:tr>' +
      '<a:tr><a:tc><a:txBody><a:p><a:r><a:t>Noord</a:t></a:r></a:p></a:txBody></a:tc><a:tc><a:txBody><a:p><a:r><a:t>1,2 mln</a:t></a:r></a:p></a:txBody></a:tc></a:tr>' +
      '</a:tbl></a:graphicData></a:graphic></p:graphicFrame>';
    const runs = '<p:sp><p:nvSpPr><p:cNvPr id="5" name="Runs"/><p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:txBody><a:p><a:r><a:t>Samen</a:t></a:r><a:r><a:t>gesteld</a:t></a:r><a:br/><a:r><a:t>regel twee</a:t></a:r></a:p></p:txBody></p:sp>';
    const xml = slide(shape(['Cijfers'], 'title') + shape(['Eerste punt', 'Tweede punt'], '') + table + runs + shape(['Vertrouwelijk'], 'ftr') + shape(['7'], 'sldNum'));
    const doc = await extractDocument('cijfers.pptx', await pack(presentation({ 1: xml }, [1])));
    expect(doc.sections[0]!.text).toBe('Eerste punt\nTweede punt\nRegio | Omzet\nNoord | 1,2 mln\nSamengesteld\nregel twee');
  });

  it('appends speaker notes after a "Notes:" line, without the notes page slide number', async () => {
    const files = presentation({ 1: slide(shape(['Planning'], 'title') + shape(['Fase 1 start in mei'])) }, [1], {
      'ppt/slides/_rels/slide1.xml.rels': rels([['rId9', `${REL}/notesSlide`, '../notesSlides/notesSlide1.xml']]),
      'ppt/notesSlides/notesSlide1.xml': notes(shape([], 'sldImg') + shape(['Noem het budget niet.'], 'body') + shape(['1'], 'sldNum')),
    });
    const doc = await extractDocument('planning.pptx', await pack(files));
    expect(doc.sections[0]!.text).toBe('Fase 1 start in mei\n\nNotes:\nNoem het budget niet.');
  });

  it('keeps a title-only slide instead of dropping it as empty', async () => {
    const doc = await extractDocument('divider.pptx', await pack(presentation({ 1: slide(shape(['Deel 2: Financien'], 'title')) }, [1])));
    expect(doc.sections).toEqual([{ heading: 'Slide 1: Deel 2: Financien', text: 'Deel 2: Financien' }]);
  });

  it('decodes only the XML entities and character references, leaving HTML names as written', async () => {
    const doc = await extractDocument('entities.pptx', await pack(presentation({ 1: slide(shape(['R&amp;D &lt;intern&gt; &#8364;5 &#x263A; &nbsp;'])) }, [1])));
    expect(doc.sections[0]!.text).toBe('R&D <intern> €5 ☺ &nbsp;');
  });

  it.each([
    ['an external entity (XXE)', '<!DOCTYPE p:sld [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'],
    ['nested internal entities (billion laughs)', '<!DOCTYPE p:sld [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'],
  ])('refuses a slide whose DOCTYPE declares %s instead of expanding it', async (_, doctype) => {
    const xml = slide(shape(['&xxe; &c;']), `${XML_DECLARATION}${doctype}`);
    const message = await extractionError('xxe.pptx', await pack(presentation({ 1: xml }, [1])));
    expect(message).toMatch(/xxe\.pptx is not a readable PowerPoint presentation: ppt\/slides\/slide1\.xml contains a DTD/);
  });

  it('refuses a presentation that is a zip bomb before inflating it', async () => {
    const parts = presentation({ 1: slide(shape(['x'])) }, [1]);
    const zeros = Buffer.alloc(50 * 1024 * 1024);
    const bomb = rawZip([...Object.entries(parts).map(([name, text]) => deflated(name, text)), { name: 'ppt/media/padding.xml', compressed: deflateRawSync(zeros), declaredSize: zeros.length }]);
    expect(bomb.length).toBeLessThan(100 * 1024);
    expect(await extractionError('bomb.pptx', bomb)).toMatch(/which only zip bombs do/);
  });

  it('stops inflating a part whose zip directory understates its size', async () => {
    // The directory declares 100 bytes; the part really inflates to more than the whole package budget.
    const deflate = createDeflateRaw({ level: 9 });
    const out: Buffer[] = [];
    deflate.on('data', (chunk: Buffer) => out.push(chunk));
    const block = Buffer.alloc(4 * 1024 * 1024, 0x20);
    deflate.write(`${XML_DECLARATION}<p:sld ${P_NS}><p:cSld><p:spTree>`);
    for (let written = 0; written <= MAX_UNCOMPRESSED_BYTES; written += block.length) if (!deflate.write(block)) await once(deflate, 'drain');
    deflate.end();
    await once(deflate, 'end');
    const parts = presentation({}, [1]);
    parts['ppt/_rels/presentation.xml.rels'] = rels([['rIdS1', `${REL}/slide`, 'slides/slide1.xml']]);
    const liar = rawZip([...Object.entries(parts).map(([name, text]) => deflated(name, text)), { name: 'ppt/slides/slide1.xml', compressed: Buffer.concat(out), declaredSize: 100 }]);
    expect(await extractionError('liar.pptx', liar)).toMatch(/liar\.pptx expands past \d+ bytes, more than its zip directory declares/);
  }, 30_000);

  it('refuses a presentation without slides as having no readable text', async () => {
    expect(await extractionError('empty.pptx', await pack(presentation({}, [])))).toMatch(/empty\.pptx contains no readable text/);
  });

  it.each([
    ['a zip of something else', () => pack({ 'readme.txt': 'just a zip' })],
    ['a Word document', () => Promise.resolve(fs.readFileSync(path.join(__dirname, '..', '..', 'tests', 'fixtures', 'documents', 'headings.docx')))],
  ])('refuses %s named .pptx as having no presentation part', async (_, make) => {
    expect(await extractionError('other.pptx', await make())).toMatch(/other\.pptx is not a readable PowerPoint presentation: it has no presentation part/);
  });

  it('reads a slide listed twice only once', async () => {
    const doc = await extractDocument('twice.pptx', await pack(presentation({ 1: slide(shape(['Een'], 'title')), 2: slide(shape(['Twee'], 'title')) }, [1, 1, 2, 1])));
    expect(doc.sections.map((s) => s.heading)).toEqual(['Slide 1: Een', 'Slide 2: Twee']);
  });
});

// --- Excel -----------------------------------------------------------------------------------------

/** A workbook whose cells use these number formats: style i of cellXfs has numFmtId formats[i]. */
function styledWorkbook(rows: string, formats: number[], customFormats: Record<number, string> = {}, workbookPr = ''): Record<string, string> {
  const files = workbook([{ name: 'Data', file: 'sheet1.xml', rows }]);
  files['xl/_rels/workbook.xml.rels'] = rels([['rIdW0', `${REL}/worksheet`, 'worksheets/sheet1.xml'], ['rIdSt', `${REL}/styles`, 'styles.xml']]);
  if (workbookPr) files['xl/workbook.xml'] = files['xl/workbook.xml']!.replace('<sheets>', `${workbookPr}<sheets>`);
  const numFmts = Object.entries(customFormats).map(([id, code]) => `<numFmt numFmtId="${id}" formatCode="${code.replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"/>`).join('');
  // cellStyleXfs also holds <xf> elements; only cellXfs is what a cell's s attribute indexes.
  files['xl/styles.xml'] = `${XML_DECLARATION}<styleSheet ${X_NS}>${numFmts ? `<numFmts count="${Object.keys(customFormats).length}">${numFmts}</numFmts>` : ''}<cellStyleXfs count="2"><xf numFmtId="14"/><xf numFmtId="14"/></cellStyleXfs><cellXfs count="${formats.length}">${formats.map((id) => `<xf numFmtId="${id}" xfId="0"/>`).join('')}</cellXfs></styleSheet>`;
  return files;
}

describe('Excel dates', () => {
  it('shows cells with a built-in date or time format as ISO dates, and leaves other numbers as stored', async () => {
    const rows =
      '<row r="1"><c r="A1" s="1"><v>45292</v></c><c r="B1" s="2"><v>45292.5</v></c><c r="C1" s="3"><v>0.75</v></c><c r="D1" s="0"><v>45292</v></c><c r="E1" s="4"><v>45292</v></c></row>' +
      '<row r="2"><c r="A2" s="5"><v>1.5</v></c><c r="B2" s="1"><f>TODAY()</f><v>46348</v></c><c r="C2" s="1" t="str"><v>not a number</v></c><c r="D2"><v>12</v></c></row>';
    // Styles: 0 General, 1 built-in 14 (date), 2 built-in 22 (date and time), 3 built-in 20 (h:mm), 4 built-in 4 (#,##0.00), 5 built-in 46 ([h]:mm:ss, a duration).
    const doc = await extractDocument('dates.xlsx', await pack(styledWorkbook(rows, [0, 14, 22, 20, 4, 46])));

    expect(doc.sections[0]!.text).toBe('2024-01-01 | 2024-01-01 12:00:00 | 18:00:00 | 45292 | 45292\n1.5 | 2026-11-22 | not a number | 12');
  });

  it('recognises custom date formats and leaves custom number formats alone', async () => {
    const rows = '<row r="1">' + ['A', 'B', 'C', 'D', 'E', 'F', 'G'].map((col, i) => `<c r="${col}1" s="${i}"><v>45306.25</v></c>`).join('') + '</row>';
    const custom = { 164: 'dd/mm/yyyy', 165: '[$-413]d mmmm yyyy;@', 166: 'h:mm AM/PM', 167: '#,##0.00 "dagen"', 168: '[Red]0.00;[Blue]-0.00', 169: 'yyyy-mm-dd hh:mm', 170: '0.0 "d"\\m' };
    const doc = await extractDocument('custom.xlsx', await pack(styledWorkbook(rows, [164, 165, 166, 167, 168, 169, 170], custom)));

    expect(doc.sections[0]!.text).toBe('2024-01-15 | 2024-01-15 | 06:00:00 | 45306.25 | 45306.25 | 2024-01-15 06:00:00 | 45306.25');
  });

  it('counts from 1904 in a workbook that says so', async () => {
    const doc = await extractDocument('mac.xlsx', await pack(styledWorkbook('<row r="1"><c r="A1" s="1"><v>0</v></c><c r="B1" s="1"><v>43830</v></c></row>', [0, 14], {}, '<workbookPr date1904="1"/>')));

    expect(doc.sections[0]!.text).toBe('1904-01-01 | 2024-01-01');
  });

  it.each([
    [1, 'date', '1900-01-01'],
    [59, 'date', '1900-02-28'],
    [60, 'date', '1900-02-29'],
    [61, 'date', '1900-03-01'],
    [2_958_465, 'date', '9999-12-31'],
    [45292.999999, 'datetime', '2024-01-02 00:00:00'],
    [0.5, 'time', '12:00:00'],
  ] as const)('turns serial %s (%s) into %s as Excel shows it', (serial, kind, iso) => {
    expect(serialToIso(serial, kind)).toBe(iso);
  });

  it.each([-1, 0, 2_958_466, Number.NaN])('keeps the number %s, which no date format can show', (serial) => {
    expect(serialToIso(serial, 'date')).toBeUndefined();
  });

  it.each([
    ['d-mmm-yy', 'date'],
    ['mmmm yyyy', 'date'],
    ['mm:ss', 'time'],
    ['hh:mm:ss', 'time'],
    ['[$-F400]h:mm:ss AM/PM', 'time'],
    ['dd/mm/yyyy hh:mm', 'datetime'],
    ['[h]:mm:ss', undefined],
    ['General', undefined],
    ['0.00%', undefined],
    ['#,##0 "m²"', undefined],
    ['[Magenta]0', undefined],
    ['_-* #,##0.00_-;\\-* #,##0.00_-', undefined],
  ])('reads the format %j as %s', (code, kind) => {
    expect(dateKindOfFormat(code)).toBe(kind);
  });
});

describe('Excel extraction', () => {
  it('reads shared strings with rich-text runs, inline strings, numbers, booleans, errors and cached formula values', async () => {
    const strings = '<si><t>Post</t></si><si><r><rPr><b/></rPr><t>Reis</t></r><r><t xml:space="preserve">kosten</t></r></si><si><t>東京</t><rPh sb="0" eb="2"><t>トウキョウ</t></rPh></si>';
    const rows =
      '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>Bedrag</t></is></c></row>' +
      '<row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2"><v>1234.5</v></c><c r="C2" t="b"><v>1</v></c><c r="D2" t="b"><v>0</v></c></row>' +
      '<row r="3"><c r="A3" t="s"><v>2</v></c><c r="B3"><f>SUM(B2:B2)*2</f><v>2469</v></c><c r="C3" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="D3" t="str"><f>A1&amp;"!"</f><v>Post!</v></c></row>';
    const doc = await extractDocument('types.xlsx', await pack(workbook([{ name: 'Data', file: 'sheet1.xml', rows }], strings)));
    expect(doc.sections).toEqual([{ heading: 'Data', text: 'Post | Bedrag\nReiskosten | 1234.5 | TRUE | FALSE\n東京 | 2469 | #DIV/0! | Post!' }]);
    expect(doc.sections[0]!.text).not.toContain('SUM');
  });

  it('orders sheets as the workbook lists them, skips empty rows and keeps empty cells between values', async () => {
    const doc = await extractDocument(
      'order.xlsx',
      await pack(
        workbook([
          { name: 'Overzicht', file: 'sheet2.xml', rows: '<row r="1"><c r="A1" t="inlineStr"><is><t>Eerst</t></is></c></row><row r="2"/><row r="4"><c r="A4"><v></v></c></row><row r="5"><c r="A5" t="inlineStr"><is><t>Laatst</t></is></c><c r="D5"><v>4</v></c></row>' },
          { name: 'Details', file: 'sheet1.xml', rows: '<row r="1"><c t="inlineStr"><is><t>zonder</t></is></c><c t="inlineStr"><is><t>referentie</t></is></c></row>' },
        ]),
      ),
    );
    expect(doc.sections).toEqual([
      { heading: 'Overzicht', text: 'Eerst\nLaatst | | | 4' },
      { heading: 'Details', text: 'zonder | referentie' },
    ]);
  });

  it(`stops at ${MAX_WORKBOOK_CELLS} cells and says so in the text`, async () => {
    const columns = 10;
    const rowCount = MAX_WORKBOOK_CELLS / columns + 500;
    let rows = '';
    for (let r = 1; r <= rowCount; r++) {
      rows += `<row r="${r}">`;
      for (let c = 0; c < columns; c++) rows += `<c r="${String.fromCharCode(65 + c)}${r}"><v>${r * 100 + c}</v></c>`;
      rows += '</row>';
    }
    const doc = await extractDocument(
      'huge.xlsx',
      await pack(
        workbook([
          { name: 'Export', file: 'sheet1.xml', rows },
          { name: 'Later', file: 'sheet2.xml', rows: '<row r="1"><c r="A1" t="inlineStr"><is><t>LATER-CANARY</t></is></c></row>' },
        ]),
      ),
    );
    expect(doc.sections).toHaveLength(1);
    const lines = doc.sections[0]!.text.split('\n');
    expect(lines.filter((l) => /^\d/.test(l)).flatMap((l) => l.split(' | '))).toHaveLength(MAX_WORKBOOK_CELLS);
    expect(lines.at(-1)).toBe(`[Truncated: this workbook has more than ${MAX_WORKBOOK_CELLS} cells; only the first ${MAX_WORKBOOK_CELLS} are indexed. Sheets not read: Later.]`);
  });

  it('keeps a sparse row from turning into thousands of separators', async () => {
    const rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>links</t></is></c><c r="XFD1" t="inlineStr"><is><t>rechts</t></is></c></row>';
    const doc = await extractDocument('sparse.xlsx', await pack(workbook([{ name: 'Blad1', file: 'sheet1.xml', rows }])));
    expect(doc.sections[0]!.text.length).toBeLessThan(100);
    expect(doc.sections[0]!.text).toMatch(/^links \|( \|)+ rechts$/);
  });

  it('cuts a cell longer than Excel allows at 32,767 characters', async () => {
    const rows = `<row r="1"><c r="A1" t="inlineStr"><is><t>${'x'.repeat(100_000)}</t></is></c></row>`;
    const doc = await extractDocument('long.xlsx', await pack(workbook([{ name: 'Blad1', file: 'sheet1.xml', rows }])));
    expect(doc.sections[0]!.text).toHaveLength(32_767);
  });

  it('refuses shared strings with a DOCTYPE instead of expanding their entities', async () => {
    const files = workbook([{ name: 'Blad1', file: 'sheet1.xml', rows: '<row r="1"><c r="A1" t="s"><v>0</v></c></row>' }], '<si><t>&xxe;</t></si>');
    files['xl/sharedStrings.xml'] = files['xl/sharedStrings.xml']!.replace(XML_DECLARATION, `${XML_DECLARATION}<!DOCTYPE sst [<!ENTITY xxe SYSTEM "file:///etc/hostname">]>`);
    expect(await extractionError('xxe.xlsx', await pack(files))).toMatch(/xl\/sharedStrings\.xml contains a DTD/);
  });

  it('refuses a PowerPoint file named .xlsx as having no workbook part', async () => {
    const deck = await pack(presentation({ 1: slide(shape(['Dia'], 'title')) }, [1]));
    expect(await extractionError('deck.xlsx', deck)).toMatch(/deck\.xlsx is not a readable Excel workbook: it has no workbook part/);
  });

  it.each([
    ['random bytes', () => Promise.resolve(Buffer.from('this is not a workbook at all'))],
    ['a truncated zip', async () => (await pack(workbook([{ name: 'A', file: 'sheet1.xml', rows: '' }]))).subarray(0, 200)],
    ['a zip whose local headers are overwritten', async () => {
      const bytes = Buffer.from(await pack(workbook([{ name: 'A', file: 'sheet1.xml', rows: '' }])));
      bytes.fill(0xff, 4, 160);
      return bytes;
    }],
    ['a zip whose sheet data does not inflate', async () => {
      const parts = workbook([{ name: 'A', file: 'sheet1.xml', rows: '' }]);
      delete parts['xl/worksheets/sheet1.xml'];
      return rawZip([...Object.entries(parts).map(([name, text]) => deflated(name, text)), { name: 'xl/worksheets/sheet1.xml', compressed: Buffer.from('\xff\xfe not deflate data at all'), declaredSize: 200 }]);
    }],
  ])('refuses %s named .xlsx as not a readable Excel workbook', async (_, make) => {
    expect(await extractionError('corrupt.xlsx', await make())).toMatch(/corrupt\.xlsx is not a readable Excel workbook/);
  });
});

// --- Encrypted and legacy Office files -------------------------------------------------------------

describe('Office files that are not Office Open XML packages', () => {
  it.each(['report.docx', 'deck.pptx', 'budget.xlsx'])('refuses the bare OLE compound file header of %s with a clear reason', async (name) => {
    const header = Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(504)]);
    expect(await extractionError(name, header)).toMatch(/password-protected or not an Office Open XML file/);
  });
});
