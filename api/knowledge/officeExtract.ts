/**
 * PowerPoint (.pptx) and Excel (.xlsx) extraction, and the checks every Office Open XML file
 * (.docx too) passes before any part of it is decompressed.
 *
 * An Office file is a zip package of XML parts tied together by relationship parts (_rels). The
 * parts are found through those relationships, as Office itself does, not through conventional
 * file names: a presentation's slide order is its slide list, not slide1.xml, slide2.xml, ...
 *
 * Every part is decompressed as a stream and parsed as it arrives, so a part can be abandoned
 * half-way (a workbook past its cell cap) and a part whose zip header lies about its size cannot
 * expand past the package's byte budget. The XML parser decodes only the five XML entities and
 * numeric character references; a part with a DTD is refused outright, since the Open Packaging
 * Conventions forbid DTDs in package parts [M1.18] and a DTD is how entity attacks (XXE, billion
 * laughs) arrive.
 */
import path from 'node:path';
import { Parser } from 'htmlparser2';
import JSZip from 'jszip';
import { fail, isKluisError } from '../errors';
import type { Section } from './extract';
import { assertSafeZip, MAX_UNCOMPRESSED_BYTES } from './zipGuard';

export interface OfficeContent {
  title?: string;
  sections: Section[];
}

/** Beyond this many cells a workbook is a data set rather than prose; the rest is not indexed. */
export const MAX_WORKBOOK_CELLS = 20_000;

// An encrypted Office Open XML file is not a zip but an OLE compound file holding the encrypted
// package (MS-OFFCRYPTO); the legacy binary formats (.doc, .xls, .ppt) are OLE files too.
const OLE_SIGNATURE = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
const ENCRYPTED_PACKAGE_STREAM = Buffer.from('EncryptedPackage', 'utf16le');
const ZIP_SIGNATURE = Buffer.from('PK\u0003\u0004', 'latin1');

/**
 * Refuses what is not a safe Office Open XML package: an encrypted or legacy Office file, bytes
 * that are not a zip, and zip bombs (the zip guard). `kind` names the format in the reason.
 */
export function assertOfficeOpenXml(fileName: string, bytes: Buffer, kind: string): void {
  if (bytes.subarray(0, OLE_SIGNATURE.length).equals(OLE_SIGNATURE)) {
    if (bytes.includes(ENCRYPTED_PACKAGE_STREAM)) fail('extraction_failed', `${fileName} is password-protected; remove the password to index it`);
    fail('extraction_failed', `${fileName} is password-protected or not an Office Open XML file (it is an OLE compound file, such as a legacy .doc, .xls or .ppt)`);
  }
  if (!bytes.subarray(0, ZIP_SIGNATURE.length).equals(ZIP_SIGNATURE)) fail('extraction_failed', `${fileName} is not a readable ${kind}: not a zip package`);
  try {
    assertSafeZip(fileName, bytes);
  } catch (error) {
    // The guard was written for Word files and says so in its reasons; the log should name the real format.
    if (isKluisError(error, 'extraction_failed')) fail('extraction_failed', error.message.replace('a readable Word document', `a readable ${kind}`), { cause: error });
    throw error;
  }
}

/** One slide per section, headed "Slide N: title", with the speaker notes after a "Notes:" line. */
export async function extractPptx(fileName: string, bytes: Buffer): Promise<OfficeContent> {
  const pkg = await openPackage(fileName, bytes, 'PowerPoint presentation');
  const presentation = await mainPart(pkg, 'ppt/presentation.xml');
  const slideIds: string[] = [];
  let root: string | undefined;
  const found = await readXml(pkg, presentation, {
    open(name, attrs) {
      root ??= name;
      if (name === 'sldId') {
        const id = relationshipId(attrs);
        if (id) slideIds.push(id);
      }
    },
  });
  if (!found || root !== 'presentation') fail('extraction_failed', `${fileName} is not a readable PowerPoint presentation: it has no presentation part`);
  const relationships = await readRelationships(pkg, presentation);
  const sections: Section[] = [];
  const seen = new Set<string>();
  let firstSlideTitle: string | undefined;
  for (const id of slideIds) {
    const slidePart = relationships.get(id);
    if (!slidePart || !slidePart.type.endsWith('/slide')) continue;
    // A slide is listed once; a list naming one part over and over would only make us parse it again.
    if (seen.has(slidePart.target)) continue;
    seen.add(slidePart.target);
    const shapes = await readShapes(pkg, slidePart.target);
    const titleShape = shapes.find((s) => s.placeholder === 'title' || s.placeholder === 'ctrTitle');
    const title = titleShape?.lines.join(' ').replace(/\s+/g, ' ').trim() || undefined;
    const number = sections.length + 1;
    if (number === 1) firstSlideTitle = title;
    const body = shapes.filter((s) => s !== titleShape && !SLIDE_FURNITURE.has(s.placeholder ?? '')).flatMap((s) => s.lines);
    const notesPart = [...(await readRelationships(pkg, slidePart.target)).values()].find((r) => r.type.endsWith('/notesSlide'));
    const notes = notesPart ? (await readShapes(pkg, notesPart.target)).filter((s) => !NOTES_FURNITURE.has(s.placeholder ?? '')).flatMap((s) => s.lines) : [];
    const lines = body.filter((line) => line.trim());
    const noteLines = notes.filter((line) => line.trim());
    if (noteLines.length > 0) lines.push('', 'Notes:', ...noteLines);
    // A title-only slide (a section divider) still says something; keep it as its own text.
    if (lines.length === 0 && title) lines.push(title);
    sections.push({ heading: title ? `Slide ${number}: ${title}` : `Slide ${number}`, text: lines.join('\n') });
  }
  return { title: (await coreTitle(pkg)) ?? firstSlideTitle, sections };
}

/** Placeholders that repeat on every slide (footer, date, slide number) rather than say anything. */
const SLIDE_FURNITURE = new Set(['sldNum', 'ftr', 'dt', 'hdr']);
/** On a notes page: the slide's own image, and the page furniture. */
const NOTES_FURNITURE = new Set(['sldImg', 'sldNum', 'ftr', 'dt', 'hdr']);

interface Shape {
  placeholder?: string;
  lines: string[];
}

/**
 * The text of a slide or notes page, shape by shape in document order, which is PowerPoint's
 * reading order (the order a screen reader follows). Paragraphs become lines; table rows become
 * lines with their cells joined by " | ".
 */
async function readShapes(pkg: Package, part: string): Promise<Shape[]> {
  const shapes: Shape[] = [];
  let shape: Shape | undefined;
  let paragraph: string | undefined;
  let inRun = false;
  let row: string[] | undefined;
  let cell: string[] | undefined;
  // mc:Fallback repeats mc:Choice for older readers (an equation as a picture, say); read one of them.
  let fallbackDepth = 0;
  await readXml(pkg, part, {
    open(name, attrs) {
      if (name === 'Fallback') fallbackDepth++;
      if (fallbackDepth > 0) return;
      if (name === 'sp' || name === 'graphicFrame') shape = { lines: [] };
      else if (!shape) return;
      else if (name === 'ph') shape.placeholder = attrs.type ?? 'obj';
      else if (name === 'p') paragraph = '';
      else if (name === 't') inRun = paragraph !== undefined;
      else if (name === 'br' && paragraph !== undefined) paragraph += '\n';
      else if (name === 'tr') row = [];
      else if (name === 'tc') cell = [];
    },
    text(text) {
      if (fallbackDepth === 0 && inRun) paragraph += text;
    },
    close(name) {
      if (name === 'Fallback') fallbackDepth--;
      if (fallbackDepth > 0 || !shape) return;
      if (name === 't') inRun = false;
      else if (name === 'p' && paragraph !== undefined) {
        if (cell) cell.push(paragraph.replace(/\s+/g, ' ').trim());
        else shape.lines.push(paragraph);
        paragraph = undefined;
      } else if (name === 'tc' && cell) {
        row?.push(cell.filter(Boolean).join(' '));
        cell = undefined;
      } else if (name === 'tr' && row) {
        if (row.some(Boolean)) shape.lines.push(row.join(' | '));
        row = undefined;
      } else if (name === 'sp' || name === 'graphicFrame') {
        shapes.push(shape);
        shape = undefined;
      }
    },
  });
  return shapes;
}

/**
 * One sheet per section, headed by the sheet's name: rows as lines, cells joined by " | ". A
 * formula contributes its cached value (what Excel last showed), numbers appear as stored, except
 * numbers styled as dates or times, which appear as ISO 8601 dates (see `dateFormats`).
 */
export async function extractXlsx(fileName: string, bytes: Buffer): Promise<OfficeContent> {
  const pkg = await openPackage(fileName, bytes, 'Excel workbook');
  const workbook = await mainPart(pkg, 'xl/workbook.xml');
  const sheets: Array<{ name: string; id?: string }> = [];
  let root: string | undefined;
  let date1904 = false;
  const found = await readXml(pkg, workbook, {
    open(name, attrs) {
      root ??= name;
      if (name === 'sheet') sheets.push({ name: attrs.name ?? `Sheet ${sheets.length + 1}`, id: relationshipId(attrs) });
      else if (name === 'workbookPr') date1904 = attrs.date1904 === '1' || attrs.date1904 === 'true';
    },
  });
  if (!found || root !== 'workbook') fail('extraction_failed', `${fileName} is not a readable Excel workbook: it has no workbook part`);
  const relationships = await readRelationships(pkg, workbook);
  const stylesPart = [...relationships.values()].find((r) => r.type.endsWith('/styles'));
  const dates: DateStyles = { kinds: stylesPart ? await dateFormats(pkg, stylesPart.target) : [], date1904 };

  // Sheets first, holding shared strings as indices: the strings part is then read only as far
  // as the cells that made it under the cap need.
  const counter = { cells: 0, truncated: false };
  const read: Array<{ name: string; rows: Cell[][]; truncatedHere: boolean }> = [];
  const unread: string[] = [];
  const seen = new Set<string>();
  for (const sheet of sheets) {
    const part = sheet.id ? relationships.get(sheet.id) : undefined;
    if (!part || !part.type.endsWith('/worksheet') || seen.has(part.target)) continue;
    seen.add(part.target);
    if (counter.truncated) {
      unread.push(sheet.name);
      continue;
    }
    const rows = await readSheet(pkg, part.target, counter, dates);
    read.push({ name: sheet.name, rows, truncatedHere: counter.truncated });
  }
  let needed = -1;
  for (const sheet of read) for (const row of sheet.rows) for (const cell of row) needed = Math.max(needed, cell.sharedIndex ?? -1);
  const stringsPart = [...relationships.values()].find((r) => r.type.endsWith('/sharedStrings'));
  const strings = stringsPart && needed >= 0 ? await readSharedStrings(pkg, stringsPart.target, needed) : [];

  const sections = read.map(({ name, rows, truncatedHere }) => {
    const lines = rows
      .map((r) => r.map((c) => (c.sharedIndex === undefined ? c.text : (strings[c.sharedIndex] ?? ''))).map((t) => t.replace(/\s+/g, ' ').trim()))
      // A row of blank shared strings is as empty as a row without cells.
      .filter((cells) => cells.some(Boolean))
      .map((cells) => cells.join(' | '));
    if (truncatedHere) {
      const listed = unread.slice(0, 20).join(', ') + (unread.length > 20 ? ` and ${unread.length - 20} more` : '');
      const rest = unread.length > 0 ? ` Sheets not read: ${listed}.` : '';
      lines.push('', `[Truncated: this workbook has more than ${MAX_WORKBOOK_CELLS} cells; only the first ${MAX_WORKBOOK_CELLS} are indexed.${rest}]`);
    }
    return { heading: name, text: lines.join('\n') };
  });
  return { title: await coreTitle(pkg), sections };
}

/** A cell as read from the sheet: its text, or the index of its shared string. */
interface Cell {
  text: string;
  sharedIndex?: number;
}

/**
 * The non-empty rows of one sheet. Empty cells between filled ones stay as empty slots, so a value
 * keeps its place under its column's header; a wider gap than MAX_GAP (a note far to the right)
 * becomes one slot. Slots count towards the cap like filled cells.
 */
async function readSheet(pkg: Package, part: string, counter: { cells: number; truncated: boolean }, dates: DateStyles): Promise<Cell[][]> {
  const rows: Cell[][] = [];
  let row: Cell[] | undefined;
  let previousColumn = 0;
  let lastFilledColumn = 0;
  let cell: { column: number; type: string; style: number; value: string; inline: string } | undefined;
  let into: 'value' | 'inline' | undefined;
  let inInlineString = false;
  let phoneticDepth = 0;
  const finishRow = () => {
    if (row && row.length > 0) rows.push(row);
    row = undefined;
  };
  const addCell = (value: Cell, column: number) => {
    if (!row) return;
    const gap = row.length === 0 ? 0 : Math.min(Math.max(0, column - lastFilledColumn - 1), MAX_GAP);
    if (counter.cells + gap + 1 > MAX_WORKBOOK_CELLS) {
      counter.truncated = true;
      return;
    }
    for (let i = 0; i < gap; i++) row.push({ text: '' });
    row.push(value);
    counter.cells += gap + 1;
    lastFilledColumn = column;
  };
  await readXml(
    pkg,
    part,
    {
      open(name, attrs) {
        if (counter.truncated) return;
        if (name === 'row') {
          row = [];
          previousColumn = 0;
        } else if (name === 'c' && row) {
          // The reference is optional; a cell without one follows the previous cell.
          const column = columnNumber(attrs.r) ?? previousColumn + 1;
          previousColumn = column;
          cell = { column, type: attrs.t ?? 'n', style: Number(attrs.s ?? 0), value: '', inline: '' };
        } else if (!cell) return;
        else if (name === 'v') into = 'value';
        else if (name === 'is') inInlineString = true;
        else if (name === 'rPh') phoneticDepth++;
        else if (name === 't' && inInlineString && phoneticDepth === 0) into = 'inline';
      },
      text(text) {
        if (!cell || !into) return;
        if (into === 'value') cell.value = appendCapped(cell.value, text);
        else cell.inline = appendCapped(cell.inline, text);
      },
      close(name) {
        if (counter.truncated) return;
        if (name === 'v' || name === 't') into = undefined;
        else if (name === 'is') inInlineString = false;
        else if (name === 'rPh') phoneticDepth = Math.max(0, phoneticDepth - 1);
        else if (name === 'c' && cell) {
          const value = cellValue(cell, dates);
          if (value) addCell(value, cell.column);
          cell = undefined;
        } else if (name === 'row') finishRow();
      },
    },
    () => counter.truncated,
  );
  finishRow();
  return rows;
}

const MAX_GAP = 20;

/** Excel holds at most 32,767 characters in a cell; a part claiming more is not one Excel wrote. */
const MAX_CELL_CHARS = 32_767;
const appendCapped = (current: string, text: string) => (current.length >= MAX_CELL_CHARS ? current : (current + text).slice(0, MAX_CELL_CHARS));

/** A cell's displayed value, by its type attribute (ECMA-376 Part 1, 18.18.11 ST_CellType). */
function cellValue(cell: { type: string; style: number; value: string; inline: string }, dates: DateStyles): Cell | undefined {
  const value = cell.value.trim();
  switch (cell.type) {
    case 's': {
      const index = Number(value);
      return value !== '' && Number.isInteger(index) && index >= 0 ? { text: '', sharedIndex: index } : undefined;
    }
    case 'inlineStr':
      return cell.inline.trim() ? { text: cell.inline } : undefined;
    case 'b':
      return value === '' ? undefined : { text: value === '1' || value === 'true' ? 'TRUE' : 'FALSE' };
    case 'n': {
      if (!value) return undefined;
      const kind = Number.isInteger(cell.style) ? dates.kinds[cell.style] : undefined;
      return { text: (kind && serialToIso(Number(value), kind, dates.date1904)) || value };
    }
    default:
      // str (a formula's text result), e (error such as #N/A), d (ISO date): as stored.
      return value ? { text: value } : undefined;
  }
}

// --- Dates ---------------------------------------------------------------------------------------

/**
 * Excel stores a date as a number of days since its epoch (the time of day as the fraction) and
 * only the cell's number format says it is a date. Without that format the index would hold
 * "45292" where the sheet shows 1-1-2024, and nobody searches for that.
 */
type DateKind = 'date' | 'time' | 'datetime';

interface DateStyles {
  /** By cell style index (the `s` attribute, an index into cellXfs): what kind of date it shows. */
  kinds: Array<DateKind | undefined>;
  /** The workbook counts from 1904-01-01 (old Mac Excel) instead of 1900-01-00. */
  date1904: boolean;
}

/**
 * Built-in number formats that show dates and times (ECMA-376 Part 1, 18.8.30 numFmt): 14-17 and 22
 * dates (22 with time), 18-21 and 45-47 times. Elapsed-time formats ([h]:mm:ss) are durations, not
 * moments, and keep their number.
 */
const BUILT_IN_DATE_FORMATS: Record<number, DateKind> = { 14: 'date', 15: 'date', 16: 'date', 17: 'date', 18: 'time', 19: 'time', 20: 'time', 21: 'time', 22: 'datetime', 45: 'time', 46: 'time', 47: 'time' };
/** Built-in 46 is "[h]:mm:ss", a duration. */
const BUILT_IN_DURATIONS = new Set([46]);

/** What a custom format code shows: a date, a time, both, or (undefined) not a moment at all. */
export function dateKindOfFormat(code: string): DateKind | undefined {
  // Only the first section (positive numbers) matters; drop literals, escapes, fill/padding
  // characters and bracketed colours and locales, which may contain letters such as "d" or "m".
  const first = code.split(';')[0] ?? '';
  if (/\[[hms]+\]/i.test(first)) return undefined;
  const tokens = first
    .replace(/"[^"]*"/g, '')
    .replace(/\\./g, '')
    .replace(/[_*]./g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/AM\/PM|A\/P/gi, 'h');
  // "m" is minutes right after hours or right before seconds, and months everywhere else.
  const withoutMinutes = tokens.replace(/h+\s*:?\s*m+/gi, 'h').replace(/m+\s*:?\s*s+/gi, 's');
  const hasDate = /[ydm]/i.test(withoutMinutes);
  const hasTime = /[hs]/i.test(withoutMinutes);
  if (hasDate && hasTime) return 'datetime';
  if (hasDate) return 'date';
  if (hasTime) return 'time';
  return undefined;
}

/** The styles part's cell formats, as the kind of date each one shows (if any). */
async function dateFormats(pkg: Package, part: string): Promise<Array<DateKind | undefined>> {
  const custom = new Map<number, string>();
  const cellFormats: number[] = [];
  let inCellXfs = false;
  await readXml(pkg, part, {
    open(name, attrs) {
      if (name === 'numFmt' && attrs.numFmtId !== undefined && attrs.formatCode !== undefined) custom.set(Number(attrs.numFmtId), attrs.formatCode);
      else if (name === 'cellXfs') inCellXfs = true;
      else if (name === 'xf' && inCellXfs) cellFormats.push(Number(attrs.numFmtId ?? 0));
    },
    close(name) {
      if (name === 'cellXfs') inCellXfs = false;
    },
  });
  return cellFormats.map((id) => {
    const code = custom.get(id);
    if (code !== undefined) return dateKindOfFormat(code);
    return BUILT_IN_DURATIONS.has(id) ? undefined : BUILT_IN_DATE_FORMATS[id];
  });
}

/** The latest date Excel can show (9999-12-31), as a 1900-system serial. */
const MAX_SERIAL = 2_958_465;

/**
 * A serial as ISO 8601: YYYY-MM-DD, HH:MM:SS, or YYYY-MM-DD HH:MM:SS (seconds rounded, as Excel
 * shows them). Undefined for what no date format can show (negative, past 9999, not a number).
 */
export function serialToIso(serial: number, kind: DateKind, date1904 = false): string | undefined {
  if (!Number.isFinite(serial) || serial < 0 || serial > MAX_SERIAL) return undefined;
  const totalSeconds = Math.round(serial * 86_400);
  let days = Math.floor(totalSeconds / 86_400);
  const seconds = totalSeconds - days * 86_400;
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor((seconds % 3600) / 60))}:${pad(seconds % 60)}`;
  if (kind === 'time') return time;
  let date: string;
  if (date1904) {
    date = new Date(Date.UTC(1904, 0, 1) + days * 86_400_000).toISOString().slice(0, 10);
  } else if (days === 60) {
    // Lotus 1-2-3 took 1900 for a leap year and Excel kept the phantom day for compatibility.
    date = '1900-02-29';
  } else {
    // Serial 0 is "1900-01-00" in Excel, which no calendar has: keep the number.
    if (days === 0) return undefined;
    // Day 1 is 1900-01-01; past the phantom 29 February every serial is one day further on.
    if (days > 60) days -= 1;
    date = new Date(Date.UTC(1899, 11, 31) + days * 86_400_000).toISOString().slice(0, 10);
  }
  return kind === 'date' ? date : `${date} ${time}`;
}

/** Column letters of a cell reference ("C7") as a number, A = 1. */
function columnNumber(reference: string | undefined): number | undefined {
  const letters = /^([A-Za-z]{1,3})\d*$/.exec(reference ?? '')?.[1];
  if (!letters) return undefined;
  let n = 0;
  for (const ch of letters.toUpperCase()) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n;
}

/** The shared strings up to `lastIndex`: each string item's text, rich-text runs joined, phonetic guides left out. */
async function readSharedStrings(pkg: Package, part: string, lastIndex: number): Promise<string[]> {
  const strings: string[] = [];
  let item: string | undefined;
  let inText = false;
  let phoneticDepth = 0;
  await readXml(
    pkg,
    part,
    {
      open(name) {
        if (name === 'si') item = '';
        else if (name === 'rPh') phoneticDepth++;
        else if (name === 't' && item !== undefined && phoneticDepth === 0) inText = true;
      },
      text(text) {
        if (inText && item !== undefined) item = appendCapped(item, text);
      },
      close(name) {
        if (name === 't') inText = false;
        else if (name === 'rPh') phoneticDepth = Math.max(0, phoneticDepth - 1);
        else if (name === 'si' && item !== undefined) {
          strings.push(item);
          item = undefined;
        }
      },
    },
    () => strings.length > lastIndex,
  );
  return strings;
}

// --- The package: parts, relationships, streamed XML ---------------------------------------------

interface Package {
  fileName: string;
  kind: string;
  /** Part names compare case-insensitively in a package [OPC M1.12]. */
  parts: Map<string, JSZip.JSZipObject>;
  /** Decompressed bytes still allowed across every part read, whatever the zip headers declare. */
  budget: number;
}

async function openPackage(fileName: string, bytes: Buffer, kind: string): Promise<Package> {
  assertOfficeOpenXml(fileName, bytes, kind);
  let zip: JSZip;
  try {
    zip = await JSZip.loadAsync(bytes);
  } catch (error) {
    fail('extraction_failed', `${fileName} is not a readable ${kind}: ${(error as Error).message}`, { cause: error });
  }
  const parts = new Map<string, JSZip.JSZipObject>();
  for (const entry of Object.values(zip.files)) if (!entry.dir) parts.set(entry.name.toLowerCase(), entry);
  return { fileName, kind, parts, budget: MAX_UNCOMPRESSED_BYTES };
}

/** The main part (presentation, workbook) as the package's root relationships name it. */
async function mainPart(pkg: Package, conventional: string): Promise<string> {
  const root = await readRelationships(pkg, '');
  return [...root.values()].find((r) => r.type.endsWith('/officeDocument'))?.target ?? conventional;
}

/** docProps/core.xml's dc:title, if the package has one. */
async function coreTitle(pkg: Package): Promise<string | undefined> {
  const root = await readRelationships(pkg, '');
  const part = [...root.values()].find((r) => r.type.endsWith('/core-properties'))?.target ?? 'docProps/core.xml';
  let title: string | undefined;
  let inTitle = false;
  await readXml(
    pkg,
    part,
    {
      open(name) {
        inTitle = name === 'title' && title === undefined;
        if (inTitle) title = '';
      },
      text(text) {
        if (inTitle) title += text;
      },
      close() {
        inTitle = false;
      },
    },
    () => title !== undefined && !inTitle,
  );
  return title?.replace(/\s+/g, ' ').trim() || undefined;
}

/** A part's relationships by id, targets resolved to part names; external targets (links) are left out. */
async function readRelationships(pkg: Package, source: string): Promise<Map<string, { type: string; target: string }>> {
  const relationships = new Map<string, { type: string; target: string }>();
  const relsPart = path.posix.join(path.posix.dirname(source), '_rels', `${path.posix.basename(source)}.rels`);
  await readXml(pkg, relsPart, {
    open(name, attrs) {
      if (name !== 'Relationship' || !attrs.Id || !attrs.Target || attrs.TargetMode === 'External') return;
      relationships.set(attrs.Id, { type: attrs.Type ?? '', target: resolveTarget(source, attrs.Target) });
    },
  });
  return relationships;
}

/** A relationship target is a URI relative to its source part, or absolute from the package root. */
function resolveTarget(source: string, target: string): string {
  let decoded = target;
  try {
    decoded = decodeURIComponent(target);
  } catch {
    // Not percent-encoded after all; use it as written.
  }
  const joined = decoded.startsWith('/') ? decoded : path.posix.join(path.posix.dirname(source), decoded);
  return path.posix.normalize(joined).replace(/^\/+/, '');
}

/** The relationship id of an element such as <p:sldId r:id="rId2">, whatever the namespace prefix. */
function relationshipId(attrs: Record<string, string>): string | undefined {
  const key = Object.keys(attrs).find((k) => k.endsWith(':id'));
  return key ? attrs[key] : undefined;
}

interface XmlHandlers {
  /** Element names arrive without their namespace prefix: prefixes are the writer's choice. */
  open?(name: string, attrs: Record<string, string>): void;
  text?(text: string): void;
  close?(name: string): void;
}

const localName = (name: string) => name.slice(name.indexOf(':') + 1);

/**
 * Streams one part through the XML parser. Resolves false when the package has no such part,
 * true once parsed (or once `done` says nothing more is wanted). Refuses DTDs and stops when the
 * package's decompression budget runs out.
 */
async function readXml(pkg: Package, part: string, handlers: XmlHandlers, done?: () => boolean): Promise<boolean> {
  const entry = pkg.parts.get(part.toLowerCase());
  if (!entry) return false;
  const parser = new Parser(
    {
      onprocessinginstruction(name) {
        // "<!DOCTYPE", "<!ENTITY", ...: declarations; "<?xml ...?>" is the only instruction Office writes.
        if (name.startsWith('!')) fail('extraction_failed', `${pkg.fileName} is not a readable ${pkg.kind}: ${part} contains a DTD, which Office Open XML forbids`);
      },
      onopentag: (name, attrs) => handlers.open?.(localName(name), attrs),
      ontext: (text) => handlers.text?.(text),
      onclosetag: (name) => handlers.close?.(localName(name)),
    },
    { xmlMode: true, decodeEntities: true },
  );
  const decoder = new TextDecoder('utf-8');
  try {
    const outcome = await pump((entry as StreamableEntry).internalStream('uint8array'), (chunk) => {
      pkg.budget -= chunk.length;
      if (pkg.budget < 0) fail('extraction_failed', `${pkg.fileName} expands past ${MAX_UNCOMPRESSED_BYTES} bytes, more than its zip directory declares`);
      parser.write(decoder.decode(chunk, { stream: true }));
      return done?.() ?? false;
    });
    if (outcome === 'ended') {
      parser.write(decoder.decode());
      parser.end();
    }
  } catch (error) {
    if (isKluisError(error)) throw error;
    fail('extraction_failed', `${pkg.fileName} is not a readable ${pkg.kind}: ${part}: ${(error as Error).message}`, { cause: error });
  }
  return true;
}

/**
 * Feeds a part's decompressed chunks to `onChunk` until the part ends or `onChunk` returns true.
 * Stopping pauses the stream for good, so the rest of the part is never inflated.
 */
function pump(stream: JSZip.JSZipStreamHelper<Uint8Array>, onChunk: (chunk: Uint8Array) => boolean): Promise<'ended' | 'stopped'> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (outcome: 'ended' | 'stopped' | { error: unknown }) => {
      if (settled) return;
      settled = true;
      stream.pause();
      if (typeof outcome === 'object') reject(outcome.error);
      else resolve(outcome);
    };
    stream
      .on('data', (chunk) => {
        if (settled) return;
        try {
          if (onChunk(chunk)) settle('stopped');
        } catch (error) {
          settle({ error });
        }
      })
      .on('error', (error) => settle({ error }))
      .on('end', () => settle('ended'))
      .resume();
  });
}

/** ZipObject#internalStream is documented jszip API that its type declarations leave out. */
type StreamableEntry = JSZip.JSZipObject & { internalStream(type: 'uint8array'): JSZip.JSZipStreamHelper<Uint8Array> };
